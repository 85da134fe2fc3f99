import { CommanderError } from "commander";
import { describeError } from "./errors.ts";
import { buildProgram } from "./program.ts";

async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv.slice(2));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`devreg: ${describeError(err)}\n`);
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  }
}

await main(process.argv);
