import { describe, expect, it } from "vitest";
import { parseCpuTicks, parseVmRssKiB } from "./parse.ts";

describe("procfs parsers", () => {
  it("reads VmRSS in KiB", () => {
    const status = "Name:\tnode\nVmPeak:\t  900000 kB\nVmRSS:\t   123456 kB\nRssAnon:\t 100000 kB\n";
    expect(parseVmRssKiB(status)).toBe(123456);
    expect(parseVmRssKiB("Name:\tkthreadd\n")).toBeUndefined();
  });

  it("sums utime and stime, even when the command name has spaces and parentheses", () => {
    const rest = "S 1 2 3 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 12345 1000 200";
    expect(parseCpuTicks(`4242 (node) ${rest}`)).toBe(325);
    expect(parseCpuTicks(`4242 (a b) (c)) ${rest}`)).toBe(325);
    expect(parseCpuTicks("garbage")).toBeUndefined();
  });
});
