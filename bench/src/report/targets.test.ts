import { describe, expect, it } from "vitest";
import { examplePhase, exampleSweepPoint } from "./example-result.ts";
import { checkTargets, writesPerOp } from "./targets.ts";

const fixed20 = { mode: "fixed", ratePerSec: 20 } as const;
const burst = { mode: "burst" } as const;

describe("checkTargets", () => {
  const phases = [
    examplePhase("floor", fixed20, 4, 20),
    examplePhase("devreg", fixed20, 5, 20),
    examplePhase("polling", fixed20, 1000, 20),
    examplePhase("floor", burst, 40, 400),
    examplePhase("devreg", burst, 60, 300),
  ];

  it("judges each target from the phases and the sweep", () => {
    const checks = checkTargets(phases, [exampleSweepPoint(10_000, 15)], 20);
    const met = Object.fromEntries(checks.map((c) => [c.id, c.met]));
    // 300/s is 75% of 400/s: below the 85% target.
    expect(met).toEqual({
      throughput: false,
      "throughput-isolated": null,
      "light-p50": true,
      "light-p99": true,
      "vs-polling": true,
      "rss-per-device": true,
      "rss-per-device-100k": null,
      reconnect: null,
    });
    expect(checks.find((c) => c.id === "throughput")!.actual).toContain("75.0%");
  });

  it("fails the latency targets when devreg is slow, and RSS when over 20 KiB", () => {
    const slow = phases.map((p) =>
      p.id === "devreg-fixed-20" ? examplePhase("devreg", fixed20, 200, 20) : p,
    );
    const met = Object.fromEntries(
      checkTargets(slow, [exampleSweepPoint(10_000, 25)], 20).map((c) => [c.id, c.met]),
    );
    expect(met["light-p50"]).toBe(false);
    expect(met["light-p99"]).toBe(false);
    expect(met["vs-polling"]).toBe(false);
    expect(met["rss-per-device"]).toBe(false);
  });

  it("says 'not measured' (met: null) for what the run did not cover", () => {
    const checks = checkTargets([], [exampleSweepPoint(1000, 12)], 20);
    expect(checks.every((c) => c.met === null)).toBe(true);
    expect(checks.find((c) => c.id === "rss-per-device")!.actual).toContain("stopped at 1000 devices");
  });
});

describe("checkTargets, issue 16", () => {
  const isolated = { mode: "burst", of: "isolated" } as const;

  it("judges the isolated bursts on their own, against the same 85 % share", () => {
    const checks = checkTargets(
      [examplePhase("floor", isolated, 30, 200), examplePhase("devreg", isolated, 40, 180)],
      [],
      20,
    );
    const t = checks.find((c) => c.id === "throughput-isolated")!;
    expect(t.met).toBe(true);
    expect(t.actual).toBe("180.0/s vs 200.0/s = 90.0%");
    expect(checks.find((c) => c.id === "throughput")!.met).toBeNull();
  });

  it("judges RSS at 100,000 devices against 10 KiB", () => {
    const at = (kib: number) =>
      checkTargets([], [exampleSweepPoint(10_000, 12), exampleSweepPoint(100_000, kib)], 20).find(
        (c) => c.id === "rss-per-device-100k",
      )!;
    expect(at(9.5).met).toBe(true);
    expect(at(12.4).met).toBe(false);
    const stopped = checkTargets([], [exampleSweepPoint(50_000, 11)], 20).find(
      (c) => c.id === "rss-per-device-100k",
    )!;
    expect(stopped.met).toBeNull();
    expect(stopped.actual).toContain("stopped at 50000 devices");
  });
});

describe("checkTargets RSS", () => {
  it("fails when fewer than 10,000 devices stayed connected, and says so", () => {
    const point = { ...exampleSweepPoint(10_000, 15), connected: 9984 };
    const [rss] = checkTargets([], [point], 20).filter((c) => c.id === "rss-per-device");
    expect(rss?.met).toBe(false);
    expect(rss?.actual).toBe("15.0 KiB, but only 9984 of 10000 connected");
  });
});

describe("checkTargets reconnect (issue 16)", () => {
  const reconnect = (count: number, durationMs: number, apiRequestsPerOp?: Record<string, number>) => ({
    ...examplePhase("devreg", { mode: "burst", of: "reconnect" }, 100),
    count,
    ok: count,
    durationMs,
    apiRequestsPerOp,
  });
  const verdict = (p: ReturnType<typeof reconnect>) =>
    checkTargets([p], [], 20).find((c) => c.id === "reconnect")!;

  it("is met by 10,000 devices in 5 s or less with no apiserver write", () => {
    const v = verdict(reconnect(10_000, 4_800, { "GET deviceregistrations": 0.01 }));
    expect(v.met).toBe(true);
    expect(v.actual).toBe("10000/10000 in 4.8 s, 0.00 writes per device");
  });

  it("is missed when slower, smaller, or when any write reached the apiserver", () => {
    expect(verdict(reconnect(10_000, 5_100, {})).met).toBe(false);
    expect(verdict(reconnect(1_000, 1_000, {})).met).toBe(false);
    expect(verdict(reconnect(10_000, 4_000, { "POST deviceregistrations": 0.001 })).met).toBe(false);
    expect(verdict(reconnect(10_000, 4_000)).actual).toContain("writes not measured");
  });

  it("counts POST, PUT, PATCH and DELETE as writes, reads not", () => {
    expect(
      writesPerOp({
        "GET a": 1,
        "LIST a": 1,
        "WATCH a": 1,
        "POST a": 1,
        "PATCH a/status": 0.5,
        "DELETE a": 0.25,
      }),
    ).toBe(1.75);
    expect(writesPerOp(undefined)).toBeUndefined();
  });

  it("names the phase devreg-reconnect", () => {
    expect(reconnect(1, 1).id).toBe("devreg-reconnect");
  });
});
