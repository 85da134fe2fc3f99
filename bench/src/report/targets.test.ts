import { describe, expect, it } from "vitest";
import { examplePhase, exampleSweepPoint } from "./example-result.ts";
import { checkTargets } from "./targets.ts";

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
      "light-p50": true,
      "light-p99": true,
      "vs-polling": true,
      "rss-per-device": true,
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

describe("checkTargets RSS", () => {
  it("fails when fewer than 10,000 devices stayed connected, and says so", () => {
    const point = { ...exampleSweepPoint(10_000, 15), connected: 9984 };
    const [rss] = checkTargets([], [point], 20).filter((c) => c.id === "rss-per-device");
    expect(rss?.met).toBe(false);
    expect(rss?.actual).toBe("15.0 KiB, but only 9984 of 10000 connected");
  });
});
