/** The timing loop of the protocol micro-benchmarks (not a test). */
import { loadavg } from "node:os";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

let sink = 0;
/**
 * Reports wall-clock ops/s and ops per CPU-second of this process. On a shared machine the
 * CPU figure is the better estimate of one core's capacity; on an idle one they agree.
 * Returns µs of CPU per op.
 */
export function bench(name: string, fn: (i: number) => unknown): number {
  const warmUntil = performance.now() + 200;
  for (let i = 0; performance.now() < warmUntil; i++) fn(i);
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) sink ^= fn(ops++) ? 1 : 0;
  }
  const wall = (performance.now() - start) / 1000;
  const cpuUs = process.cpuUsage(cpu0);
  const cpu = (cpuUs.user + cpuUs.system) / 1e6;
  const perSec = ops / wall;
  const perCpuSec = ops / cpu;
  console.log(
    `${name.padEnd(44)} ${Math.round(perSec).toString().padStart(9)} ops/s wall ${Math.round(perCpuSec).toString().padStart(9)} ops/CPU-s ${(1e6 / perCpuSec).toFixed(1).padStart(9)} µs CPU/op`,
  );
  if (sink === 42) console.log("");
  return 1e6 / perCpuSec;
}

export function header(title: string): void {
  console.log(`${title} — node ${process.version}, ${SECONDS}s per case, load ${loadavg()[0]!.toFixed(2)}`);
}
