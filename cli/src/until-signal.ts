import { progress } from "./output.ts";

/**
 * Runs in the foreground until SIGINT or SIGTERM, then stops `what` gracefully: the one signal
 * handling of every long-running command. A second signal exits at once (130); a failed stop
 * sets exit code 1.
 */
export function untilSignal(what: string, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`devreg: ${sig} again, exiting without a graceful stop\n`);
        process.exit(130);
        return;
      }
      stopping = true;
      progress(`${sig}: stopping ${what}`);
      stop().then(resolve, (err: Error) => {
        process.stderr.write(`devreg: error while stopping ${what}: ${err.message}\n`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
