import { describe, expect, it } from "vitest";
import { MAX_SWEEP_DEVICES, parsePhaseGroups, resolveSettings, validateSweep } from "./options.ts";
import { fileStamp } from "./report/files.ts";

describe("resolveSettings", () => {
  it("derives fixed-phase counts from rate × seconds", () => {
    const s = resolveSettings({ rates: [20, 100], fixedSeconds: 10 });
    expect(s.fixedCounts).toEqual([200, 1000]);
    expect(s.pollingCount).toBe(200);
    expect(s.sweep).toEqual([100, 1000, 10_000, 50_000, 100_000]);
    expect(s.phases).toEqual(["fixed", "burst", "isolated", "polling", "sweep", "reconnect"]);
    expect(s.reconnectMax).toBe(10_000);
  });

  it("sorts and de-duplicates sweep points, refuses impossible ones", () => {
    expect(resolveSettings({ sweep: [1000, 100, 1000] }).sweep).toEqual([100, 1000]);
    expect(validateSweep([])).toEqual([]);
    for (const bad of [0, -1, 2.5, Number.NaN, MAX_SWEEP_DEVICES + 1])
      expect(() => validateSweep([bad]), String(bad)).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });

  it("--quick caps the sweep at 1,000 and shortens phases", () => {
    const s = resolveSettings({ quick: true });
    expect(Math.max(...s.sweep)).toBe(1000);
    expect(s.fixedCounts).toEqual([60, 150]);
  });
});

describe("parsePhaseGroups", () => {
  it("takes known groups, refuses unknown or none", () => {
    expect(parsePhaseGroups("isolated, burst")).toEqual(["isolated", "burst"]);
    expect(() => parsePhaseGroups("")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => parsePhaseGroups("fixed,bursts")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });
});

describe("fileStamp", () => {
  it("makes ISO times file-name safe", () => {
    expect(fileStamp("2025-01-02T03:04:05.678Z")).toBe("2025-01-02T03-04-05Z");
  });
});
