import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_SKEW_SECONDS, isSourceFull, ReplayGuard } from "./index.ts";

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

describe("ReplayGuard per-source cap [PROTO-23b]", () => {
  const key = (n: number) => n.toString(16).padStart(32, "0"); // a fresh key per pair
  const A = "127.0.0.2";
  const B = "127.0.0.3";
  const scope = (r: ReturnType<ReplayGuard["check"]>) =>
    r.ok ? "ok" : isSourceFull(r.error) ? "source_full" : r.error.code;

  it("refuses a source at its cap with E_REPLAY_CACHE_FULL and adds nothing", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerSource: 5 });
    for (let i = 0; i < 5; i++) expect(scope(g.check(key(i), nonce(0), 0, { source: A }))).toBe("ok");
    const r = g.check(key(5), nonce(0), 1, { source: A });
    expect(code(r)).toBe("E_REPLAY_CACHE_FULL");
    expect(scope(r)).toBe("source_full");
    expect(g.size).toBe(5);
    expect(g.largestSource).toBe(5);
    // Not added: from another source the same pair is new, not a replay.
    expect(scope(g.check(key(5), nonce(0), 1, { source: B }))).toBe("ok");
  });

  it("other sources and unsourced pairs are unaffected by a source at its cap", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerSource: 10 });
    for (let i = 0; i < 1000; i++) g.check(key(i), nonce(0), 0, { source: A });
    expect(g.size).toBe(10);
    for (let i = 0; i < 10; i++) expect(scope(g.check(key(5000 + i), nonce(0), 1, { source: B }))).toBe("ok");
    expect(scope(g.check(key(9999), nonce(0), 1))).toBe("ok");
    expect(g.size).toBe(21);
  });

  it("the memory-wide cap still applies: a global full is not a source refusal", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 4, maxPerSource: 3 });
    for (let i = 0; i < 2; i++) g.check(key(i), nonce(0), 0, { source: A });
    for (let i = 0; i < 2; i++) g.check(key(10 + i), nonce(0), 0, { source: B });
    const r = g.check(key(20), nonce(0), 0, { source: "127.0.0.4" });
    expect(code(r)).toBe("E_REPLAY_CACHE_FULL");
    expect(scope(r)).toBe("E_REPLAY_CACHE_FULL");
  });

  it("expiry frees the source's quota, and an emptied source is forgotten", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 100, maxPerSource: 3 });
    for (let i = 0; i < 3; i++) g.check(key(i), nonce(0), i, { source: A });
    expect(scope(g.check(key(3), nonce(0), 9, { source: A }))).toBe("source_full");
    expect(scope(g.check(key(3), nonce(0), 10, { source: A }))).toBe("ok"); // key(0) expired at 10
    expect(scope(g.check(key(4), nonce(0), 10, { source: A }))).toBe("source_full");
    expect(g.largestSource).toBe(3);
    g.check(key(99), nonce(0), 100); // sweeps everything
    expect(g.largestSource).toBe(0);
    expect(g.size).toBe(1);
  });

  it("a clock step back does not leave expired pairs counted against the source", () => {
    const g = new ReplayGuard({ windowSeconds: 10, maxEntries: 100, maxPerSource: 2 });
    g.check(key(2), nonce(0), 1005); // unsourced, expires at 1015: the front
    g.check(key(0), nonce(0), 1000, { source: A }); // clock stepped back: expires at 1010
    g.check(key(1), nonce(0), 100, { source: A }); // and again: expires at 110
    // At 1012 both of A's pairs have expired behind the live front, and only a full sweep sees it.
    expect(scope(g.check(key(3), nonce(0), 1012, { source: A }))).toBe("ok");
    expect(g.largestSource).toBe(1);
  });

  it("[PROTO-23a] a device's own pair forgotten early is uncounted from its source", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerDevice: 2, maxPerSource: 3 });
    const dev2 = "d".repeat(32);
    // The device's two pairs come from A, then it moves to B: each new pair evicts one from A.
    g.check(dev2, nonce(0), 0, { source: A });
    g.check(dev2, nonce(1), 0, { source: A });
    g.check(key(7), nonce(0), 0, { source: A });
    expect(scope(g.check(key(8), nonce(0), 0, { source: A }))).toBe("source_full");
    expect(scope(g.check(dev2, nonce(2), 1, { source: B }))).toBe("ok");
    expect(scope(g.check(dev2, nonce(3), 1, { source: B }))).toBe("ok");
    expect(g.evicted).toBe(2);
    // A lost the device's two pairs, so it has room for two more.
    expect(scope(g.check(key(8), nonce(0), 2, { source: A }))).toBe("ok");
    expect(scope(g.check(key(9), nonce(0), 2, { source: A }))).toBe("ok");
    expect(scope(g.check(key(10), nonce(0), 2, { source: A }))).toBe("source_full");
  });

  it("[PROTO-23a] a device at its own cap may replace its pair from a full source; a new device may not", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerDevice: 2, maxPerSource: 2 });
    g.check(dev, nonce(0), 0, { source: A });
    g.check(dev, nonce(1), 0, { source: A });
    for (let i = 2; i < 10; i++) expect(scope(g.check(dev, nonce(i), 1, { source: A }))).toBe("ok");
    expect(g.size).toBe(2);
    expect(scope(g.check(key(1), nonce(0), 1, { source: A }))).toBe("source_full");
    // From a full source, evicting a pair of another source would add one: refused, nothing forgotten.
    g.check(key(2), nonce(0), 1, { source: B });
    g.check(key(3), nonce(0), 1, { source: B });
    const before = g.evicted;
    expect(scope(g.check(dev, nonce(10), 2, { source: B }))).toBe("source_full");
    expect(g.evicted).toBe(before);
    expect(code(g.check(dev, nonce(9), 2, { source: A }))).toBe("E_REPLAY"); // still remembered
  });

  it("a remembered pair is E_REPLAY even when its source is at its cap", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerSource: 2 });
    g.check(key(0), nonce(0), 0, { source: A });
    g.check(key(1), nonce(0), 0, { source: A });
    expect(code(g.check(key(0), nonce(0), 1, { source: A }))).toBe("E_REPLAY");
    expect(code(g.check(key(1), nonce(0), 1, { source: A, pin: true }))).toBe("E_REPLAY");
  });

  it("pinned CONNECT pairs count against their source like any other", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 100, maxPerSource: 2 });
    g.check(key(0), nonce(0), 0, { source: A, pin: true });
    g.check(key(1), nonce(0), 0, { source: A, pin: true });
    expect(scope(g.check(key(2), nonce(0), 0, { source: A, pin: true }))).toBe("source_full");
  });

  it("without a source (or a cap) it behaves as before: only the memory-wide cap", () => {
    const g = new ReplayGuard({ windowSeconds: 600, maxEntries: 50, maxPerSource: 2 });
    for (let i = 0; i < 50; i++) expect(code(g.check(key(i), nonce(0), 0))).toBe("ok");
    expect(code(g.check(key(50), nonce(0), 0))).toBe("E_REPLAY_CACHE_FULL");
    expect(g.largestSource).toBe(0);
    const uncapped = new ReplayGuard({ windowSeconds: 600, maxEntries: 50 });
    for (let i = 0; i < 50; i++) expect(code(uncapped.check(key(i), nonce(0), 0, { source: A }))).toBe("ok");
    expect(uncapped.largestSource).toBe(50);
  });

  it("rejects a per-source cap below 1", () => {
    expect(() => new ReplayGuard({ maxPerSource: 0 })).toThrow(RangeError);
  });
});
