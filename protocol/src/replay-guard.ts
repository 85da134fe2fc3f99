import { DEFAULT_REPLAY_MAX_ENTRIES, DEFAULT_REPLAY_WINDOW_SECONDS } from "./constants.ts";
import { fail, OK_VOID, type ProtocolError, type Result } from "./errors.ts";
import { toHex } from "./hex.ts";

export interface ReplayGuardOptions {
  /** How long a (deviceId, nonce) is remembered; must be >= 2 x max skew. Default 600. */
  windowSeconds?: number;
  /** Hard cap on remembered nonces. Default 100 000 (about 15 MB). */
  maxEntries?: number;
  /**
   * Cap on remembered nonces of one device (default: none). Beyond it that device's own
   * oldest pair is forgotten, never another device's, so one key's flood cannot fill the
   * memory for everyone [PROTO-23a].
   */
  maxPerDevice?: number;
  /**
   * Cap on unexpired nonces added from one source (the `source` of check(); default: none).
   * At it, that source's new pairs are refused E_REPLAY_CACHE_FULL and nothing is forgotten,
   * so fresh keys from a few addresses cannot fill the memory for everyone [PROTO-23b].
   */
  maxPerSource?: number;
}

/** The `field` of the E_REPLAY_CACHE_FULL that refuses one source at its cap [PROTO-23b]. */
const SOURCE_FIELD = "source";

/** Whether `e` refused only the request's source, at its `maxPerSource` [PROTO-23b]. */
export function isSourceFull(e: ProtocolError): boolean {
  return e.code === "E_REPLAY_CACHE_FULL" && e.field === SOURCE_FIELD;
}

interface Entry {
  expiry: number;
  deviceId: string;
  /** Where it came from, when check() was told; counted in #bySource until it is deleted. */
  source?: string;
  /** A CONNECT proof's pair [PROTO-39]: never forgotten before it expires, not even under PROTO-23a. */
  pinned?: true;
}

export interface ReplayCheckOptions {
  /**
   * A CONNECT proof's pair [PROTO-23a]: a replayed proof would open a session bound to the
   * key (PROTO-41), which is not idempotent like an enroll request, so it is never forgotten
   * early. A device at its cap with nothing but such pairs is refused E_REPLAY_CACHE_FULL
   * (only that device).
   */
  pin?: boolean;
  /**
   * Where the pair came from (the remote address's limit key, e.g. an IPv6 /64, as the
   * connection caps count it). Counted against `maxPerSource` while the pair is remembered;
   * without it the pair counts nowhere.
   */
  source?: string;
}

/**
 * [PROTO-23] Remembers (deviceId, nonce) pairs of verified requests for `windowSeconds`.
 * Pure (time is passed in) and bounded: when full of unexpired entries it fails closed
 * with E_REPLAY_CACHE_FULL (reply "busy") rather than forgetting nonces early, because
 * evicting live entries would let a flood of fresh requests re-open a replay. The only
 * early forgetting is per device [PROTO-23a]: a device over `maxPerDevice` loses its own
 * oldest pairs, which only its own key holder can cause. A source at `maxPerSource` is
 * refused too, forgetting nothing: anyone can make keys, but not addresses [PROTO-23b].
 */
export class ReplayGuard {
  readonly windowSeconds: number;
  readonly maxEntries: number;
  readonly maxPerDevice: number;
  readonly maxPerSource: number;
  /** key -> entry; Map keeps insertion order, which is expiry order while time moves forward. */
  readonly #entries = new Map<string, Entry>();
  /** deviceId -> its keys, oldest first. */
  readonly #byDevice = new Map<string, Set<string>>();
  /** source -> its remembered pairs; a source with none is not in it, so it stays <= maxEntries. */
  readonly #bySource = new Map<string, number>();
  #lastFullSweep = Number.NEGATIVE_INFINITY;
  #evicted = 0;

  constructor(opts: ReplayGuardOptions = {}) {
    this.windowSeconds = opts.windowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_REPLAY_MAX_ENTRIES;
    this.maxPerDevice = opts.maxPerDevice ?? Number.POSITIVE_INFINITY;
    this.maxPerSource = opts.maxPerSource ?? Number.POSITIVE_INFINITY;
    if (
      !(this.windowSeconds > 0) ||
      !Number.isInteger(this.maxEntries) ||
      this.maxEntries < 1 ||
      !(this.maxPerDevice >= 1) ||
      !(this.maxPerSource >= 1)
    ) {
      throw new RangeError(
        "ReplayGuard needs windowSeconds > 0, an integer maxEntries >= 1, maxPerDevice >= 1 and maxPerSource >= 1",
      );
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Live pairs forgotten early because their device went over `maxPerDevice`. */
  get evicted(): number {
    return this.#evicted;
  }

  /** The most pairs one source holds now (0 if none): O(sources), for a scrape, not per check. */
  get largestSource(): number {
    let max = 0;
    for (const n of this.#bySource.values()) if (n > max) max = n;
    return max;
  }

  /** Records the nonce and returns ok, or E_REPLAY if it was seen within the window. */
  check(
    deviceId: string,
    nonce: Uint8Array,
    nowSeconds: number,
    opts: ReplayCheckOptions = {},
  ): Result<void> {
    this.#sweepFront(nowSeconds);
    const key = `${deviceId}:${toHex(nonce)}`;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (entry.expiry > nowSeconds) return fail("E_REPLAY", "nonce already used by this device", "nonce");
      this.#delete(key, entry);
    }
    const source = opts.source;
    // Expired pairs a clock step back left behind the front still count until swept.
    if (this.#sourceFull(source)) this.#sweepAll(nowSeconds);
    const own = this.#byDevice.get(deviceId);
    const deviceFull = own !== undefined && own.size >= this.maxPerDevice;
    // [PROTO-23a] the device's own oldest request pair makes room; nobody else's is touched,
    // and no CONNECT proof's.
    const oldest = deviceFull ? this.#oldestUnpinned(own) : undefined;
    if (deviceFull && oldest === undefined) {
      return fail(
        "E_REPLAY_CACHE_FULL",
        `this device holds ${this.maxPerDevice} live CONNECT nonces`,
        "nonce",
      );
    }
    // [PROTO-23b] refused before anything is forgotten, so a refusal changes nothing. Replacing
    // a pair of the same source (PROTO-23a, same device) does not add to the source's count.
    if (this.#sourceFull(source) && (oldest === undefined || this.#entries.get(oldest)?.source !== source)) {
      return fail("E_REPLAY_CACHE_FULL", `this source holds ${this.maxPerSource} live nonces`, SOURCE_FIELD);
    }
    if (oldest !== undefined) {
      this.#delete(oldest, this.#entries.get(oldest));
      this.#evicted++;
    } else if (this.#entries.size >= this.maxEntries) {
      this.#sweepAll(nowSeconds);
      if (this.#entries.size >= this.maxEntries) {
        return fail("E_REPLAY_CACHE_FULL", `replay cache holds ${this.maxEntries} live nonces`, "nonce");
      }
    }
    const added: Entry = { expiry: nowSeconds + this.windowSeconds, deviceId };
    if (opts.pin) added.pinned = true;
    if (source !== undefined) {
      added.source = source;
      this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
    }
    this.#entries.set(key, added);
    const keys = this.#byDevice.get(deviceId);
    if (keys) keys.add(key);
    else this.#byDevice.set(deviceId, new Set([key]));
    return OK_VOID;
  }

  #sourceFull(source: string | undefined): boolean {
    return source !== undefined && (this.#bySource.get(source) ?? 0) >= this.maxPerSource;
  }

  #oldestUnpinned(keys: Set<string>): string | undefined {
    for (const key of keys) if (this.#entries.get(key)?.pinned !== true) return key;
    return undefined;
  }

  #delete(key: string, entry: Entry | undefined): void {
    this.#entries.delete(key);
    if (!entry) return;
    if (entry.source !== undefined) {
      const left = (this.#bySource.get(entry.source) ?? 1) - 1;
      if (left > 0) this.#bySource.set(entry.source, left);
      else this.#bySource.delete(entry.source);
    }
    const keys = this.#byDevice.get(entry.deviceId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.#byDevice.delete(entry.deviceId);
  }

  /** Drops expired entries from the oldest end: amortised O(1) per check. */
  #sweepFront(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiry > now) return;
      this.#delete(key, entry);
    }
  }

  /** Full scan for entries left out of order by a clock step back; at most once a second. */
  #sweepAll(now: number): void {
    if (now - this.#lastFullSweep < 1) return;
    this.#lastFullSweep = now;
    for (const [key, entry] of this.#entries) if (entry.expiry <= now) this.#delete(key, entry);
  }
}
