import type { PhaseResult, SweepPoint, TargetCheck } from "../result.ts";

/** The targets of issue 7, for a 2-core machine. */
export const TARGETS = {
  throughputShareOfFloor: 0.85,
  /** Issue 16: the same share with the control plane on a core of its own (taskset). */
  isolatedShareOfFloor: 0.85,
  lightP50OverFloorMs: 10,
  lightP99Ms: 100,
  speedupOverPolling: 10,
  sweepDevices: 10_000,
  rssPerDeviceKiB: 20,
  /** Issue 16: the sweep reaches 100,000 connected devices at <= 10 KiB gateway RSS each. */
  largeSweepDevices: 100_000,
  largeRssPerDeviceKiB: 10,
  /** Issue 16: 10,000 enrolled devices reconnect and re-enroll within 5 s, with no apiserver write. */
  reconnectDevices: 10_000,
  reconnectSeconds: 5,
} as const;

/** Apiserver writes (POST, PUT, PATCH, DELETE) per operation, from a phase's request counts. */
export function writesPerOp(requests: Record<string, number> | undefined): number | undefined {
  if (!requests) return undefined;
  let n = 0;
  for (const [key, perOp] of Object.entries(requests)) if (/^(POST|PUT|PATCH|DELETE) /.test(key)) n += perOp;
  return n;
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);

/** Checks every target against one run's results. Pure: phases and sweep in, verdicts out. */
export function checkTargets(phases: PhaseResult[], sweep: SweepPoint[], lightRate: number): TargetCheck[] {
  const byId = new Map(phases.map((p) => [p.id, p]));
  const floorBurst = byId.get("floor-burst");
  const devregBurst = byId.get("devreg-burst");
  const floorLight = byId.get(`floor-fixed-${lightRate}`);
  const devregLight = byId.get(`devreg-fixed-${lightRate}`);
  const pollingLight = byId.get(`polling-fixed-${lightRate}`);
  const measured = (p: PhaseResult | undefined): p is PhaseResult => p !== undefined && p.latency.count > 0;
  const out: TargetCheck[] = [];

  const t = TARGETS;
  const throughput = (
    id: string,
    what: string,
    floor: PhaseResult | undefined,
    devreg: PhaseResult | undefined,
    share: number,
  ) =>
    measured(floor) && measured(devreg)
      ? {
          id,
          description: `${what} throughput vs the floor's, same concurrency`,
          target: `>= ${share * 100}% of floor`,
          actual: `${fmt(devreg.throughputPerSec)}/s vs ${fmt(floor.throughputPerSec)}/s = ${fmt(
            (100 * devreg.throughputPerSec) / floor.throughputPerSec,
          )}%`,
          met: devreg.throughputPerSec >= share * floor.throughputPerSec,
        }
      : notMeasured(id, `${what} throughput vs the floor's`, `${what} phases missing`);
  out.push(throughput("throughput", "devreg burst", floorBurst, devregBurst, t.throughputShareOfFloor));
  out.push(
    throughput(
      "throughput-isolated",
      "devreg burst, control plane on its own core,",
      byId.get("floor-burst-isolated"),
      byId.get("devreg-burst-isolated"),
      t.isolatedShareOfFloor,
    ),
  );
  out.push(
    measured(floorLight) && measured(devregLight)
      ? {
          id: "light-p50",
          description: `devreg p50 at ${lightRate}/s vs the floor's p50 at ${lightRate}/s`,
          target: `<= floor p50 + ${t.lightP50OverFloorMs} ms`,
          actual: `${fmt(devregLight.latency.p50)} ms vs ${fmt(floorLight.latency.p50)} + ${t.lightP50OverFloorMs} ms`,
          met: devregLight.latency.p50 <= floorLight.latency.p50 + t.lightP50OverFloorMs,
        }
      : notMeasured("light-p50", `devreg p50 at ${lightRate}/s vs floor`, "light phases missing"),
  );
  out.push(
    measured(devregLight)
      ? {
          id: "light-p99",
          description: `devreg p99 at ${lightRate}/s`,
          target: `<= ${t.lightP99Ms} ms`,
          actual: `${fmt(devregLight.latency.p99)} ms`,
          met: devregLight.latency.p99 <= t.lightP99Ms,
        }
      : notMeasured("light-p99", `devreg p99 at ${lightRate}/s`, "light phase missing"),
  );
  out.push(
    measured(devregLight) && measured(pollingLight)
      ? {
          id: "vs-polling",
          description: `devreg p50 vs the original polling design's p50, both at ${lightRate}/s`,
          target: `>= ${t.speedupOverPolling}x better`,
          actual: `${fmt(pollingLight.latency.p50)} ms / ${fmt(devregLight.latency.p50)} ms = ${fmt(
            pollingLight.latency.p50 / devregLight.latency.p50,
          )}x`,
          met: pollingLight.latency.p50 >= t.speedupOverPolling * devregLight.latency.p50,
        }
      : notMeasured("vs-polling", "devreg p50 vs polling p50", "polling or devreg light phase missing"),
  );
  out.push(rssAt("rss-per-device", sweep, t.sweepDevices, t.rssPerDeviceKiB));
  out.push(rssAt("rss-per-device-100k", sweep, t.largeSweepDevices, t.largeRssPerDeviceKiB));
  const reconnect = byId.get("devreg-reconnect");
  if (measured(reconnect)) {
    const seconds = reconnect.durationMs / 1000;
    const writes = writesPerOp(reconnect.apiRequestsPerOp);
    const all = reconnect.ok === reconnect.count;
    out.push({
      id: "reconnect",
      description: `${reconnect.count} enrolled devices reconnect and re-enroll at once`,
      target: `${t.reconnectDevices} in <= ${t.reconnectSeconds} s, 0 apiserver writes`,
      actual: `${reconnect.ok}/${reconnect.count} in ${fmt(seconds)} s, ${writes === undefined ? "writes not measured" : `${fmt(writes, 2)} writes per device`}`,
      met: reconnect.count >= t.reconnectDevices && all && seconds <= t.reconnectSeconds && writes === 0,
    });
  } else {
    out.push(notMeasured("reconnect", "enrolled devices reconnect at once", "no reconnect phase"));
  }
  return out;
}

/** Gateway RSS per connected device at the sweep point of `devices` (issue 16: 100,000). */
function rssAt(id: string, sweep: SweepPoint[], devices: number, kib: number): TargetCheck {
  const at = sweep.find((s) => s.devices >= devices);
  const largest = [...sweep].sort((a, b) => b.devices - a.devices)[0];
  if (!at)
    return notMeasured(
      id,
      `gateway RSS per connected device at ${devices} devices`,
      largest
        ? `sweep stopped at ${largest.devices} devices (${largest.connected} connected): ${fmt(largest.rssPerDeviceKiB)} KiB/device there`
        : "no sweep",
    );
  return {
    id,
    description: `gateway RSS per connected device at ${at.devices} devices`,
    target: `<= ${kib} KiB with ${devices} connected`,
    actual:
      at.connected >= devices
        ? `${fmt(at.rssPerDeviceKiB)} KiB (${at.connected} connected)`
        : `${fmt(at.rssPerDeviceKiB)} KiB, but only ${at.connected} of ${at.devices} connected`,
    met: at.connected >= devices && at.rssPerDeviceKiB <= kib,
  };
}

function notMeasured(id: string, description: string, why: string): TargetCheck {
  return { id, description, target: "-", actual: `not measured: ${why}`, met: null };
}
