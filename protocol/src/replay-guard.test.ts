import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_SKEW_SECONDS, ReplayGuard } from "./index.ts";

const dev = "a".repeat(32);
const nonce = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (n >> (8 * (i % 4))) & 0xff);
const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? "ok" : r.error!.code);

describe("ReplayGuard", () => {
  it("[PROTO-23] rejects a (deviceId, nonce) seen within the window as E_REPLAY", () => {
    const g = new ReplayGuard();
    expect(code(g.check(dev, nonce(1), 1000))).toBe("ok");
    expect(code(g.check(dev, nonce(1), 1000))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(1), 1599))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(2), 1000))).toBe("ok");
    expect(code(g.check("b".repeat(32), nonce(1), 1000))).toBe("ok"); // keyed by device too
  });

  it("[PROTO-23] the default window is 2 x max skew, so no request can outlive its nonce", () => {
    const g = new ReplayGuard();
    expect(g.windowSeconds).toBe(2 * DEFAULT_MAX_SKEW_SECONDS);
    // Worst case: timestamp = now + 300 accepted at `now`; replay valid until now + 600.
    expect(code(g.check(dev, nonce(1), 0))).toBe("ok");
    expect(code(g.check(dev, nonce(1), 599))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(1), 600))).toBe("ok"); // expired and re-recorded
  });

  it("[PROTO-23] expired entries are dropped, keeping memory proportional to the live window", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 1000 });
    for (let i = 0; i < 500; i++) g.check(dev, nonce(i), i);
    expect(g.size).toBeLessThanOrEqual(11);
  });

  it("[PROTO-23] when full of live nonces it fails closed with E_REPLAY_CACHE_FULL, then recovers", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 3 });
    for (let i = 0; i < 3; i++) expect(code(g.check(dev, nonce(i), 0))).toBe("ok");
    expect(code(g.check(dev, nonce(3), 5))).toBe("E_REPLAY_CACHE_FULL");
    expect(code(g.check(dev, nonce(0), 5))).toBe("E_REPLAY"); // still remembered
    expect(g.size).toBe(3);
    expect(code(g.check(dev, nonce(3), 10))).toBe("ok");
  });

  it("[PROTO-23] survives the clock stepping backwards without growing past maxEntries", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 50 });
    for (let i = 0; i < 1000; i++) g.check(dev, nonce(i), i % 2 === 0 ? 1000 + i : 100);
    expect(g.size).toBeLessThanOrEqual(50);
  });

  it("[PROTO-23] rejects nonsensical options", () => {
    expect(() => new ReplayGuard({ windowSeconds: 0 })).toThrow(RangeError);
    expect(() => new ReplayGuard({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new ReplayGuard({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});
