import { describe, expect, it } from "vitest";
import { ConnectionLimiter } from "./connection-limiter.ts";
import { connectionFdBudget, openFileLimit } from "./fd-budget.ts";

describe("ConnectionLimiter", () => {
  it("caps connections per address and in total, and frees a slot once on release", () => {
    const seen: number[] = [];
    const l = new ConnectionLimiter({ max: 3, perAddress: 2 }, (n) => seen.push(n));
    const a1 = l.tryAdmit("10.0.0.1");
    const a2 = l.tryAdmit("10.0.0.1");
    expect(l.tryAdmit("10.0.0.1")).toEqual({ ok: false, kind: "address_connection_limit" });
    const b1 = l.tryAdmit("10.0.0.2");
    expect(l.tryAdmit("10.0.0.3")).toEqual({ ok: false, kind: "connection_limit" });
    expect(l.nearCap(0.9)).toBe(true);
    if (!a1.ok || !a2.ok || !b1.ok) throw new Error("should have been admitted");
    a1.release();
    a1.release();
    expect(l.size).toBe(2);
    expect(l.tryAdmit("10.0.0.1").ok).toBe(true);
    a2.release();
    b1.release();
    expect(l.addresses).toBe(1);
    expect(seen).toEqual([1, 2, 3, 2, 3, 2, 1]);
  });

  it("rejects caps below 1", () => {
    expect(() => new ConnectionLimiter({ max: 0, perAddress: 1 })).toThrow(RangeError);
  });
});

describe("fd budget", () => {
  it("reads the soft open-file limit from /proc/self/limits text", () => {
    const text =
      "Limit Soft Hard Units\nMax open files            1024                 4096                 files\n";
    expect(openFileLimit(text)).toBe(1024);
    expect(openFileLimit("Max open files unlimited unlimited files\n")).toBe(Number.MAX_SAFE_INTEGER);
    expect(openFileLimit("nothing here")).toBeUndefined();
  });
  it("keeps a reserve below the limit", () => {
    expect(connectionFdBudget(1024)).toBe(768);
    expect(connectionFdBudget(100)).toBe(64);
    expect(connectionFdBudget(undefined)).toBe(4096);
  });
});
