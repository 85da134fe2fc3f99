import { describe, expect, it } from "vitest";
import { capSweep, devicesWithin, GATEWAY_FD, parseOpenFilesLimits, planFdLimit } from "./fd-limit.ts";

describe("parseOpenFilesLimits", () => {
  it("reads the soft and hard limits", () => {
    const text = [
      "Limit                     Soft Limit           Hard Limit           Units     ",
      "Max cpu time              unlimited            unlimited            seconds   ",
      "Max open files            20000                20000                files     ",
    ].join("\n");
    expect(parseOpenFilesLimits(text)).toEqual({ soft: 20000, hard: 20000 });
    expect(
      parseOpenFilesLimits("Max open files            1024            unlimited            files"),
    ).toEqual({ soft: 1024, hard: Number.POSITIVE_INFINITY });
    expect(parseOpenFilesLimits("")).toBeUndefined();
  });
});

describe("planFdLimit", () => {
  /** The gateway's default MQTT cap at an open-file limit (gateway-mqtt config). */
  const defaultCap = (limit: number) =>
    Math.min(GATEWAY_FD.mqttCeiling, Math.floor((limit - GATEWAY_FD.reserve) * GATEWAY_FD.mqttShare));

  it("a small sweep fits the usual limit, with the gateway's default cap", () => {
    const p = planFdLimit(1000);
    expect(p.limit).toBeLessThanOrEqual(4096);
    expect(p.mqttCap).toBeUndefined();
    expect(defaultCap(p.limit)).toBeGreaterThan(1000);
  });

  it("at 20,000 devices the gateway's 70 % share needs more than 20,000 files", () => {
    const p = planFdLimit(20_000);
    expect(p.limit % 1024).toBe(0);
    expect(p.limit).toBeGreaterThan(20_000 / 0.7);
    expect(defaultCap(p.limit)).toBeGreaterThanOrEqual(20_000);
    expect(p.mqttCap).toBeUndefined();
  });

  it("beyond the gateway's 50,000 ceiling it names the cap to configure, within the limit", () => {
    const p = planFdLimit(100_000);
    expect(p.mqttCap).toBeGreaterThanOrEqual(100_000);
    // The gateway refuses caps (MQTT + HTTP, the latter at most 10,000) above its limit less a reserve.
    expect(p.mqttCap! + 10_000).toBeLessThan(p.limit - GATEWAY_FD.reserve / 2);
    expect(p.limit).toBeLessThan(1_048_576); // Linux's default fs.nr_open
  });
});

describe("devicesWithin and capSweep", () => {
  it("a limit holds what planFdLimit would ask it for", () => {
    for (const limit of [4096, 20_000, 150_000]) {
      const n = devicesWithin(limit);
      expect(n).toBeGreaterThan(0);
      expect(planFdLimit(n).limit).toBeLessThanOrEqual(limit + 1024); // the plan rounds up to 1024
    }
    // 20,000 files (this machine's hard limit): the gateway's 70 % share is the bound.
    expect(devicesWithin(20_000)).toBe(Math.floor(19_744 * 0.7) - 1024);
    expect(devicesWithin(100)).toBe(0);
  });

  it("drops the points above the limit and measures at the limit instead", () => {
    expect(capSweep([100, 1000, 10_000, 50_000, 100_000], 12_796)).toEqual({
      points: [100, 1000, 10_000, 12_796],
      dropped: [50_000, 100_000],
    });
    expect(capSweep([100, 1000], 12_796)).toEqual({ points: [100, 1000], dropped: [] });
    expect(capSweep([100, 1000], 0)).toEqual({ points: [], dropped: [100, 1000] });
  });
});
