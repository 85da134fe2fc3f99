import type { VirtualMcu } from "@devreg/firmware-sim";
import { sleep } from "@devreg/runtime";
import { runLoad } from "../load/arrivals.ts";
import { parseGatewayCounts, parseGatewayHeapKiB } from "../metrics/gateway-counts.ts";
import { increase } from "../metrics/prometheus.ts";
import { cpuSplit } from "../procfs/cpu-split.ts";
import { rssKiB, snapshotCpu } from "../procfs/sample.ts";
import type { SweepPoint } from "../result.ts";
import { type DeviceTarget, enrollOne } from "./devreg.ts";
import type { RolePids } from "./measure.ts";

export interface SweepOptions extends DeviceTarget {
  /** Device counts to measure at, e.g. [100, 1000, 5000, 10000]; devices accumulate. */
  points: number[];
  concurrency: number;
  /** The whole sweep starts no new device after this long; the point it was at is reported as reached. */
  budgetMs?: number;
  gatewayPid: number;
  pids: RolePids;
  gatewayMetrics?: () => Promise<string | undefined>;
  /** Wait after enrolling before reading RSS, so in-flight garbage is not counted. */
  settleMs?: number;
  log?: (line: string) => void;
  /** Called with every device of the largest point connected (e.g. to take a heap snapshot). */
  onLargest?: () => Promise<void>;
}

/**
 * Enrolls devices up to each point and leaves them connected (as enrolled devices stay, to
 * hear a deactivation), then reads the gateway's RSS. Devices accumulate from point to point,
 * so the whole sweep enrolls max(points) devices, not their sum.
 */
export async function runSweep(opts: SweepOptions): Promise<SweepPoint[]> {
  const settleMs = opts.settleMs ?? 3000;
  const devices: VirtualMcu[] = [];
  const out: SweepPoint[] = [];
  await sleep(settleMs);
  const baseline = await steadyRss(opts.gatewayPid);
  const heapBaseline = await gatewayHeap(opts.gatewayMetrics);
  const points = [...new Set(opts.points)].sort((a, b) => a - b);
  const sweepStart = performance.now();
  try {
    for (const target of points) {
      const add = target - devices.length;
      const budgetMs =
        opts.budgetMs === undefined
          ? undefined
          : Math.max(0, opts.budgetMs - (performance.now() - sweepStart));
      const countsBefore = await gatewayCounts(opts.gatewayMetrics);
      const before = snapshotCpu(opts.pids);
      const t0 = performance.now();
      const load = await runLoad({
        count: add,
        arrival: { mode: "burst" },
        concurrency: opts.concurrency,
        budgetMs,
        task: async () => {
          const d = await enrollOne(opts, true);
          devices.push(d.mcu);
          return d.latencyMs;
        },
      });
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSplit(before, snapshotCpu(opts.pids), wall);
      const countsAfter = await gatewayCounts(opts.gatewayMetrics);
      await sleep(settleMs);
      const rss = await steadyRss(opts.gatewayPid);
      const heap = await gatewayHeap(opts.gatewayMetrics);
      const connected = devices.filter((d) => d.state.connected).length;
      const point: SweepPoint = {
        devices: target,
        connected,
        enrolled: devices.length,
        failed: load.errors,
        failedKinds: load.errorKinds,
        enrollDurationMs: load.durationMs,
        enrollPerSec: load.throughputPerSec,
        latencyP50Ms: load.latency.p50,
        latencyP99Ms: load.latency.p99,
        gatewayRssBaselineKiB: baseline,
        gatewayRssKiB: rss,
        benchRssKiB: rssKiB(process.pid),
        rssPerDeviceKiB: connected > 0 ? round1((rss - baseline) / connected) : 0,
        heapPerDeviceKiB:
          connected > 0 && heap !== undefined && heapBaseline !== undefined
            ? round1((heap - heapBaseline) / connected)
            : undefined,
        cpu,
        gatewayCounts: countsBefore && countsAfter ? increase(countsBefore, countsAfter) : undefined,
      };
      out.push(point);
      if (load.notStarted > 0) {
        opts.log?.(`sweep budget spent at ${devices.length} of ${target} devices: stopping the sweep here`);
        break;
      }
      opts.log?.(
        `sweep ${target}: ${connected} connected, ${load.errors} failed, ${load.throughputPerSec}/s, ` +
          `gateway RSS ${(rss / 1024).toFixed(1)} MiB (${point.rssPerDeviceKiB} KiB/device)`,
      );
    }
    await opts.onLargest?.();
    return out;
  } finally {
    // Stop in slices: 10k simultaneous DISCONNECTs would only measure the kernel.
    for (let i = 0; i < devices.length; i += 500)
      await Promise.all(devices.slice(i, i + 500).map((d) => d.stop()));
  }
}

async function gatewayCounts(
  read?: () => Promise<string | undefined>,
): Promise<Map<string, number> | undefined> {
  const text = await read?.();
  return text === undefined ? undefined : parseGatewayCounts(text);
}

async function gatewayHeap(read?: () => Promise<string | undefined>): Promise<number | undefined> {
  const text = await read?.();
  return text === undefined ? undefined : parseGatewayHeapKiB(text);
}

/** Median of three RSS readings 300 ms apart: one reading can land mid-allocation. */
async function steadyRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rssKiB(pid) ?? 0);
    if (i < 2) await sleep(300);
  }
  return samples.sort((a, b) => a - b)[1]!;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
