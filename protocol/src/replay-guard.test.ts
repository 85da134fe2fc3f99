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

describe("ReplayGuard per-device cap [PROTO-23a]", () => {
  const other = "b".repeat(32);

  it("a flood from one key evicts only that key's own oldest pairs; others never see E_REPLAY_CACHE_FULL", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerDevice: 8 });
    for (let i = 0; i < 8; i++) expect(code(g.check(other, nonce(i), 0))).toBe("ok");
    for (let i = 0; i < 10_000; i++) expect(code(g.check(dev, nonce(i), 1))).toBe("ok");
    expect(g.size).toBe(16);
    expect(g.evicted).toBe(10_000 - 8);
    // The other device's pairs are all still remembered, and it can still add new ones.
    for (let i = 0; i < 8; i++) expect(code(g.check(other, nonce(i), 2))).toBe("E_REPLAY");
    expect(code(g.check("c".repeat(32), nonce(1), 2))).toBe("ok");
    // The flooder's newest pairs are still remembered; its oldest were forgotten.
    expect(code(g.check(dev, nonce(9_999), 2))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(0), 2))).toBe("ok");
  });

  it("many devices under their cap still fill the memory and fail closed", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 10, maxPerDevice: 4 });
    for (let d = 0; d < 5; d++) for (let i = 0; i < 2; i++) g.check(String(d).repeat(32), nonce(i), 0);
    expect(code(g.check(dev, nonce(1), 0))).toBe("E_REPLAY_CACHE_FULL");
    expect(g.evicted).toBe(0);
  });

  it("expiry keeps the per-device index in step", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 100, maxPerDevice: 3 });
    for (let t = 0; t < 100; t++) expect(code(g.check(dev, nonce(t), t * 5))).toBe("ok");
    expect(g.evicted).toBe(0);
    expect(g.size).toBe(2);
  });

  it("a key's own request flood never forgets its live CONNECT proof nonce (a replayed proof would open a session)", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerDevice: 4 });
    const proof = nonce(1_000_000);
    expect(code(g.check(dev, proof, 0, { pin: true }))).toBe("ok");
    for (let i = 0; i < 100; i++) expect(code(g.check(dev, nonce(i), 1))).toBe("ok");
    expect(code(g.check(dev, proof, 2, { pin: true }))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(99), 2))).toBe("E_REPLAY");
    expect(code(g.check(dev, nonce(0), 2))).toBe("ok"); // requests' oldest pairs still go first
  });

  it("a key at its cap with only CONNECT proofs is refused E_REPLAY_CACHE_FULL, alone, until they expire", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 100, maxPerDevice: 3 });
    for (let i = 0; i < 3; i++) expect(code(g.check(dev, nonce(i), 0, { pin: true }))).toBe("ok");
    expect(code(g.check(dev, nonce(3), 1, { pin: true }))).toBe("E_REPLAY_CACHE_FULL");
    expect(code(g.check(dev, nonce(4), 1))).toBe("E_REPLAY_CACHE_FULL");
    expect(code(g.check("b".repeat(32), nonce(3), 1, { pin: true }))).toBe("ok");
    expect(code(g.check(dev, nonce(3), 10, { pin: true }))).toBe("ok");
    expect(g.evicted).toBe(0);
  });

  it("rejects a per-device cap below 1", () => {
    expect(() => new ReplayGuard({ maxPerDevice: 0 })).toThrow(RangeError);
  });
});
