import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it.each([
    ["10m", 600_000],
    ["90s", 90_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["1.5s", 1500],
    ["600", 600_000],
    ["2d", 172_800_000],
  ])("%s = %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "ten minutes", "10x", "m10", "-5s", "5 s", "1h 30m"])("rejects %j with E_CONFIG", (text) => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
  });

  it("formats for humans", () => {
    expect(formatDuration(599_400)).toBe("9m59s");
    expect(formatDuration(3_720_000)).toBe("1h2m");
    expect(formatDuration(-5)).toBe("0s");
  });
});
