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

  it("counts an IPv6 /64 as one address, and mapped IPv4 as plain IPv4", () => {
    const l = new ConnectionLimiter({ max: 100, perAddress: 2 });
    const v6a = l.tryAdmit("2001:db8:1:2::1");
    const v6b = l.tryAdmit("2001:DB8:1:2:ffff::9");
    expect(l.tryAdmit("2001:db8:1:2:0:0:0:77")).toEqual({ ok: false, kind: "address_connection_limit" });
    expect(l.tryAdmit("2001:db8:1:3::1").ok).toBe(true); // the next /64 is another address
    const mapped = l.tryAdmit("::ffff:203.0.113.7"); // a dual-stack listener
    const plain = l.tryAdmit("203.0.113.7"); // an IPv4 listener
    expect(l.tryAdmit("::ffff:203.0.113.7")).toEqual({ ok: false, kind: "address_connection_limit" });
    expect(l.tryAdmit("203.0.113.7")).toEqual({ ok: false, kind: "address_connection_limit" });
    expect(l.addresses).toBe(3);
    if (!v6a.ok || !v6b.ok || !mapped.ok || !plain.ok) throw new Error("should have been admitted");
    // Release frees the slot of the key admitted under, whichever spelling comes next.
    mapped.release();
    expect(l.tryAdmit("203.0.113.7").ok).toBe(true);
    expect(l.tryAdmit("::ffff:203.0.113.7").ok).toBe(false);
    v6a.release();
    v6a.release();
    expect(l.tryAdmit("2001:db8:1:2::abc").ok).toBe(true);
    expect(l.tryAdmit("2001:db8:1:2::abd").ok).toBe(false);
    expect(l.size).toBe(5);
  });

  it("groups IPv6 by the prefix length it is given", () => {
    const l = new ConnectionLimiter({ max: 100, perAddress: 1 }, undefined, 128);
    expect(l.tryAdmit("2001:db8::1").ok).toBe(true);
    expect(l.tryAdmit("2001:db8::2").ok).toBe(true);
    expect(l.tryAdmit("2001:0db8::2").ok).toBe(false);
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
