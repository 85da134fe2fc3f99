import { describe, expect, it } from "vitest";
import { resolveSettings } from "./options.ts";
import { fileStamp } from "./report/files.ts";

describe("resolveSettings", () => {
  it("derives fixed-phase counts from rate × seconds", () => {
    const s = resolveSettings({ rates: [20, 100], fixedSeconds: 10 });
    expect(s.fixedCounts).toEqual([200, 1000]);
    expect(s.pollingCount).toBe(200);
    expect(s.sweep).toEqual([100, 1000, 5000, 10_000]);
  });

  it("--quick caps the sweep at 1,000 and shortens phases", () => {
    const s = resolveSettings({ quick: true });
    expect(Math.max(...s.sweep)).toBe(1000);
    expect(s.fixedCounts).toEqual([60, 150]);
  });
});

describe("fileStamp", () => {
  it("makes ISO times file-name safe", () => {
    expect(fileStamp("2025-01-02T03:04:05.678Z")).toBe("2025-01-02T03-04-05Z");
  });
});
