import { type BucketSpec, type Clock, KeyedBuckets, TokenBucket, limitKey } from "@devreg/runtime";

/**
 * Bounds on sign-in attempts. A bearer attempt costs a new TLS client and a SelfSubjectReview
 * at the API server, whoever sends it; a link attempt is a guess at the start-up token.
 */
export interface SignInLimits {
  /**
   * Attempts per client address, failed and successful alike. An address is its limit key
   * (runtime limitKey): an IPv6 /64 counts as one address, IPv4-mapped IPv6 as plain IPv4.
   */
  perAddress: BucketSpec;
  /** Attempts from all addresses together (what strangers on many addresses share). */
  global: BucketSpec;
  /** Attempts being checked at once; one more is answered "busy" at once, never queued. */
  inFlight: number;
  /** Addresses remembered; the least recently used are forgotten first (a full bucket again). */
  trackedAddresses: number;
}

/**
 * A person signs in a few times a day; 10 quick retries, then one per 6 s, is far above that.
 * Dashboard-wide 30, then 1/s: a whole team signing in after a restart. 4 checks at once: each
 * is one short apiserver request; the apiserver never sees more than 4 from the sign-in form.
 */
export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perAddress: { burst: 10, ratePerSecond: 1 / 6 },
  global: { burst: 30, ratePerSecond: 1 },
  inFlight: 4,
  trackedAddresses: 10_000,
};

export type SignInRefusal = "address_rate" | "global_rate" | "busy";

export type SignInDecision =
  /** Go on; call `release` once the attempt is over (success or failure). */
  | { kind: "admit"; release: () => void }
  | { kind: "refuse"; reason: SignInRefusal; retryAfterSeconds: number; message: string };

/**
 * The dashboard's one admission point for sign-in attempts, decided before the request body is
 * read and before any client or apiserver request exists. Order: the address's own bucket
 * first, so one address over its rate spends nothing shared; then the in-flight cap, so a busy
 * answer spends no dashboard-wide token; then the dashboard-wide bucket.
 */
export class SignInAdmission {
  private readonly perAddress: KeyedBuckets;
  private readonly global: TokenBucket;
  private running = 0;
  private readonly refusedBy: Record<SignInRefusal, number> = { address_rate: 0, global_rate: 0, busy: 0 };

  constructor(
    readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
    now: Clock = Date.now,
  ) {
    this.perAddress = new KeyedBuckets(limits.perAddress, limits.trackedAddresses, now);
    this.global = new TokenBucket(limits.global, now);
  }

  /** One attempt from `address`, the socket's raw remote address. */
  attempt(address: string): SignInDecision {
    const key = limitKey(address);
    if (!this.perAddress.tryTake(key)) {
      const s = this.perAddress.secondsUntil(key);
      return this.refuse(
        "address_rate",
        s,
        `too many sign-in attempts from your address; try again in ${s} s`,
      );
    }
    if (this.running >= this.limits.inFlight) {
      return this.refuse("busy", 1, `${this.limits.inFlight} sign-ins are being checked; try again in 1 s`);
    }
    if (!this.global.tryTake()) {
      const s = this.global.secondsUntil();
      return this.refuse(
        "global_rate",
        s,
        `too many sign-in attempts on this dashboard; try again in ${s} s`,
      );
    }
    this.running++;
    let done = false;
    return {
      kind: "admit",
      release: () => {
        if (done) return;
        done = true;
        this.running--;
      },
    };
  }

  /** Attempts being checked now. */
  get inFlight(): number {
    return this.running;
  }

  /** Refusals since start, by reason. */
  get refused(): Readonly<Record<SignInRefusal, number>> {
    return this.refusedBy;
  }

  get refusedTotal(): number {
    return this.refusedBy.address_rate + this.refusedBy.global_rate + this.refusedBy.busy;
  }

  private refuse(reason: SignInRefusal, retryAfterSeconds: number, message: string): SignInDecision {
    this.refusedBy[reason]++;
    return { kind: "refuse", reason, retryAfterSeconds, message };
  }
}
