import { DEFAULT_REPLAY_MAX_ENTRIES, DEFAULT_REPLAY_WINDOW_SECONDS } from "./constants.ts";
import { fail, OK_VOID, type Result } from "./errors.ts";
import { toHex } from "./hex.ts";

export interface ReplayGuardOptions {
  /** How long a (deviceId, nonce) is remembered; must be >= 2 x max skew. Default 600. */
  windowSeconds?: number;
  /** Hard cap on remembered nonces. Default 100 000 (about 15 MB). */
  maxEntries?: number;
}

/**
 * [PROTO-23] Remembers (deviceId, nonce) pairs of verified requests for `windowSeconds`.
 * Pure (time is passed in) and bounded: when full of unexpired entries it fails closed
 * with E_REPLAY_CACHE_FULL (reply "busy") rather than forgetting nonces early, because
 * evicting live entries would let a flood of fresh requests re-open a replay.
 */
export class ReplayGuard {
  readonly windowSeconds: number;
  readonly maxEntries: number;
  /** key -> expiry; Map keeps insertion order, which is expiry order while time moves forward. */
  readonly #entries = new Map<string, number>();
  #lastFullSweep = Number.NEGATIVE_INFINITY;

  constructor(opts: ReplayGuardOptions = {}) {
    this.windowSeconds = opts.windowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_REPLAY_MAX_ENTRIES;
    if (!(this.windowSeconds > 0) || !Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError("ReplayGuard needs windowSeconds > 0 and an integer maxEntries >= 1");
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Records the nonce and returns ok, or E_REPLAY if it was seen within the window. */
  check(deviceId: string, nonce: Uint8Array, nowSeconds: number): Result<void> {
    this.#sweepFront(nowSeconds);
    const key = `${deviceId}:${toHex(nonce)}`;
    const expiry = this.#entries.get(key);
    if (expiry !== undefined) {
      if (expiry > nowSeconds) return fail("E_REPLAY", "nonce already used by this device", "nonce");
      this.#entries.delete(key);
    }
    if (this.#entries.size >= this.maxEntries) {
      this.#sweepAll(nowSeconds);
      if (this.#entries.size >= this.maxEntries) {
        return fail("E_REPLAY_CACHE_FULL", `replay cache holds ${this.maxEntries} live nonces`, "nonce");
      }
    }
    this.#entries.set(key, nowSeconds + this.windowSeconds);
    return OK_VOID;
  }

  /** Drops expired entries from the oldest end: amortised O(1) per check. */
  #sweepFront(now: number): void {
    for (const [key, expiry] of this.#entries) {
      if (expiry > now) return;
      this.#entries.delete(key);
    }
  }

  /** Full scan for entries left out of order by a clock step back; at most once a second. */
  #sweepAll(now: number): void {
    if (now - this.#lastFullSweep < 1) return;
    this.#lastFullSweep = now;
    for (const [key, expiry] of this.#entries) if (expiry <= now) this.#entries.delete(key);
  }
}
