import { describe, expect, it } from "vitest";
import { GATEWAY_FD, parseOpenFilesLimit, planFdLimit } from "./fd-limit.ts";

describe("parseOpenFilesLimit", () => {
  it("reads the soft limit", () => {
    const text = [
      "Limit                     Soft Limit           Hard Limit           Units     ",
      "Max cpu time              unlimited            unlimited            seconds   ",
      "Max open files            20000                20000                files     ",
    ].join("\n");
    expect(parseOpenFilesLimit(text)).toBe(20000);
    expect(
      parseOpenFilesLimit("Max open files            unlimited            unlimited            files"),
    ).toBe(Number.POSITIVE_INFINITY);
    expect(parseOpenFilesLimit("")).toBeUndefined();
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
