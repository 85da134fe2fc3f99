import { runCli } from "./program.ts";

const code = await runCli(process.argv);
if (code !== undefined) process.exitCode = code;
