import { describe, expect, it } from "vitest";
import { MAX_SOURCE_ADDRESSES, isLoopbackUrl, sourceAddress } from "./source-address.ts";

describe("sourceAddress", () => {
  it("gives each device of a fleet its own loopback address, never .0 or .255, never 127.0.0.x", () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    for (let i = 0; i < 70_000; i++) {
      const a = sourceAddress(i, 70_000);
      const [p0, p1, , p3] = a.split(".").map(Number) as [number, number, number, number];
      if (seen.has(a) || p0 !== 127 || p1 < 1 || p3 < 1 || p3 > 254) bad.push(a);
      seen.add(a);
    }
    expect(bad).toEqual([]);
    expect(seen.size).toBe(70_000);
    expect(sourceAddress(0, 10)).toBe("127.1.0.1");
    expect(sourceAddress(254, 1000)).toBe("127.1.1.1");
    expect(sourceAddress(254 * 256, MAX_SOURCE_ADDRESSES)).toBe("127.2.0.1");
  });

  it("shares `count` addresses round-robin", () => {
    expect(sourceAddress(3, 3)).toBe(sourceAddress(0, 3));
    expect(new Set(Array.from({ length: 30 }, (_, i) => sourceAddress(i, 3))).size).toBe(3);
  });

  it("refuses counts it cannot serve", () => {
    expect(() => sourceAddress(0, 0)).toThrow(RangeError);
    expect(() => sourceAddress(0, MAX_SOURCE_ADDRESSES + 1)).toThrow(RangeError);
  });

  it("binds sources only for a loopback gateway", () => {
    expect(isLoopbackUrl("mqtt://127.0.0.1:1883")).toBe(true);
    expect(isLoopbackUrl("mqtt://localhost:1883")).toBe(true);
    expect(isLoopbackUrl("mqtts://127.9.9.9:8883")).toBe(true);
    expect(isLoopbackUrl("mqtt://10.0.0.5:1883")).toBe(false);
    expect(isLoopbackUrl("not a url")).toBe(false);
  });
});
