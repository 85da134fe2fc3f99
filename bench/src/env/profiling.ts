import { sleep, waitFor } from "@devreg/runtime";
import { BenchError } from "../errors.ts";

/** Node flags for a profiled child: a CPU profile on exit, a heap snapshot on SIGUSR2. */
export function profileFlags(dir: string): string[] {
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${dir}`];
}

/**
 * Asks a child started with profileFlags for a heap snapshot and waits until it is written:
 * the snapshot blocks the child's event loop, so the first answer of `probe` after the
 * signal means it is done.
 */
export async function takeHeapSnapshot(
  pid: number,
  probe: () => Promise<unknown>,
  timeoutMs = 180_000,
): Promise<void> {
  process.kill(pid, "SIGUSR2");
  await sleep(1000);
  await waitFor(async () => (await probe()) !== undefined, {
    timeoutMs: timeoutMs - 1000,
    intervalMs: 1000,
    onTimeout: () => new BenchError("E_TIMEOUT", `no heap snapshot from pid ${pid} in ${timeoutMs} ms`),
  });
}
