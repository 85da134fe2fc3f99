import { readEnv } from "@devreg/runtime";
import { USAGE, parseCliArgs } from "./cli-args.ts";
import { BenchError } from "./errors.ts";
import { renderMarkdown } from "./report/markdown.ts";
import { runBench } from "./run.ts";

// Exit codes: 0 ran (targets met or not: the report says), 1 the run failed, 2 usage error.
async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCliArgs>;
  try {
    parsed = parseCliArgs(process.argv.slice(2), readEnv());
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const abort = new AbortController();
  // `on`, not `once`: Ctrl-C reaches us from the terminal and again through the tsx wrapper,
  // and a second default-handled SIGINT would kill us halfway through stopping the control plane.
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    process.stderr.write(`bench: ${sig}, stopping the components and the control plane\n`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const { result, files } = await runBench({ ...parsed.options, signal: abort.signal });
    if (parsed.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${renderMarkdown(result)}\nwritten: ${files.json}, ${files.markdown}, ${files.svg}\n`,
      );
    return 0;
  } catch (e) {
    const code =
      e instanceof BenchError || (e as { code?: unknown }).code ? ` [${(e as { code: string }).code}]` : "";
    process.stderr.write(`bench failed${code}: ${(e as Error).message}\n`);
    // Interrupted: the components are stopped; leftover sockets and timers must not keep us alive.
    if (abort.signal.aborted) process.exit(130);
    return 1;
  }
}

process.exitCode = await main();
