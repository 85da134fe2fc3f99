import { type KubeRest, isKubeError, leasePath, leasesPath } from "@devreg/kube";
import type { Logger } from "pino";

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name (default devreg-operator). */
  name: string;
  identity: string;
  /** How long a non-renewed lease stays valid for the others. */
  leaseDurationMs: number;
  /** The leader gives up if it could not renew for this long. */
  renewDeadlineMs: number;
  /** Interval between acquire/renew attempts. */
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void;
  /** Also called on stop() while leading. May return a promise; the elector waits for it. */
  onStoppedLeading: () => void | Promise<void>;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/**
 * How long a replica that does not lead waits before its next attempt. Pure.
 *
 * A standby polls at half the retry period (jittered up to +20 %), so it sees the leader's
 * last renewal at most 0.6 x retryPeriod late, and it wakes exactly when the lease it saw
 * expires by its own clock. A crashed leader is thus replaced within
 * leaseDuration + 0.6 x retryPeriod (+ one request): 16.2 s with the defaults (15 s, 2 s),
 * where polling at the full period took up to leaseDuration + 2 x 1.2 x retryPeriod.
 */
export function standbyWaitMs(
  retryPeriodMs: number,
  leaseExpiresAt: number | undefined,
  now: number,
  random: number,
): number {
  const poll = (retryPeriodMs / 2) * (1 + random * 0.2);
  if (leaseExpiresAt === undefined) return poll;
  return Math.max(0, Math.min(poll, leaseExpiresAt - now + 5));
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (Go parses it strictly). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
 *  - a lease is free if it does not exist, has no holder, or its record has not changed for
 *    leaseDurationSeconds as timed by OUR clock since we last saw it change (no clock-skew trust);
 *  - the leader renews every retryPeriod and steps down if it has not renewed for renewDeadline;
 *  - on a graceful stop the leader releases: holderIdentity "" lets a standby take over at once.
 */
export class LeaderElector {
  private leading = false;
  private running = false;
  /** Won the lease while stop() was already under way: it never led, but stop() still releases. */
  private acquiredWhileStopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private lastRenew = 0;
  private lastError: string | undefined;
  /** When the lease another replica holds expires by our clock (epoch ms), after a "taken" attempt. */
  private othersLeaseExpiresAt: number | undefined;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: LeaderElectionOptions,
  ) {
    if (!(opts.leaseDurationMs > opts.renewDeadlineMs))
      throw new RangeError("leaseDuration must exceed renewDeadline");
    if (!(opts.renewDeadlineMs > opts.retryPeriodMs * 1.2)) {
      throw new RangeError("renewDeadline must exceed 1.2 x retryPeriod");
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Healthy unless we believe we lead but have not renewed for well past the lease. */
  healthy(now = Date.now()): boolean {
    return !this.leading || now - this.lastRenew < this.opts.leaseDurationMs + 20_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops campaigning; a leader steps down and, with `release`, frees the lease for a successor. */
  async stop(opts: { release: boolean }): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.opts.onStoppedLeading();
      if (opts.release) await this.release();
    } else if (this.acquiredWhileStopping && opts.release) {
      // Won the lease in the same moment stop() came: never led, but free it for a successor.
      await this.release();
    }
  }

  private get path(): string {
    return leasePath(this.opts.namespace, this.opts.name);
  }

  private async run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs, log } = this.opts;
    while (this.running) {
      if (!this.leading) {
        if ((await this.tryAcquireOrRenew()) === "held") {
          if (!this.running) {
            this.acquiredWhileStopping = true; // stop() arrived mid-request; it releases what we hold
            break;
          }
          this.leading = true;
          this.lastRenew = Date.now();
          log.info({ lease: this.opts.name, identity: this.opts.identity }, "became leader");
          this.opts.onStartedLeading();
          await this.sleep(retryPeriodMs);
        } else {
          await this.sleep(
            standbyWaitMs(retryPeriodMs, this.othersLeaseExpiresAt, Date.now(), Math.random()),
          );
        }
        continue;
      }
      const result = await this.tryAcquireOrRenew();
      if (result === "held") {
        this.lastRenew = Date.now();
      } else if (result === "taken" || Date.now() - this.lastRenew >= renewDeadlineMs) {
        this.leading = false;
        log.warn(
          { lease: this.opts.name, identity: this.opts.identity },
          result === "taken"
            ? "lost leadership: another replica holds the lease"
            : "lost leadership: lease not renewed in time",
        );
        await this.opts.onStoppedLeading();
        continue;
      }
      await this.sleep(retryPeriodMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  /** One attempt: "held" if we hold the lease afterwards, "taken" if another replica validly does. */
  private async tryAcquireOrRenew(): Promise<"held" | "taken" | "failed"> {
    const now = new Date();
    const timeoutMs = Math.max(1000, this.opts.retryPeriodMs);
    const { identity } = this.opts;
    const leaseDurationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    try {
      let cur: Lease;
      try {
        cur = await this.rest.request<Lease>("GET", this.path, { timeoutMs });
      } catch (e) {
        if (!isKubeError(e, "E_KUBE_NOT_FOUND")) throw e;
        this.lease = await this.rest.request<Lease>("POST", leasesPath(this.opts.namespace), {
          timeoutMs,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
        });
        this.observed = { record: JSON.stringify(this.lease.spec), at: Date.now() };
        return "held";
      }
      const record = JSON.stringify(cur.spec);
      if (!this.observed || this.observed.record !== record) this.observed = { record, at: Date.now() };
      const holder = cur.spec.holderIdentity ?? "";
      const ttlMs = (cur.spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (holder !== "" && holder !== identity && this.observed.at + ttlMs > Date.now()) {
        this.othersLeaseExpiresAt = this.observed.at + ttlMs;
        return "taken";
      }
      this.othersLeaseExpiresAt = undefined;

      const spec = { ...cur.spec, holderIdentity: identity, leaseDurationSeconds, renewTime: microTime(now) };
      if (holder !== identity) {
        spec.acquireTime = microTime(now);
        spec.leaseTransitions = (cur.spec.leaseTransitions ?? 0) + 1;
      }
      this.lease = await this.rest.request<Lease>("PUT", this.path, { timeoutMs, body: { ...cur, spec } });
      this.observed = { record: JSON.stringify(this.lease.spec), at: Date.now() };
      if (holder !== identity) {
        this.opts.log.info({ lease: this.opts.name, previous: holder || "(released)" }, "acquired lease");
      }
      this.lastError = undefined;
      return "held";
    } catch (err) {
      // Conflict = someone else wrote first: routine. Anything else is worth one log line per kind.
      const msg = (err as Error).message;
      if (!isKubeError(err, "E_KUBE_CONFLICT") && msg !== this.lastError) {
        this.opts.log.warn({ err: msg, lease: this.opts.name }, "lease attempt failed; retrying");
      }
      this.lastError = msg;
      return "failed";
    }
  }

  private async release(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const cur = this.lease ?? (await this.rest.request<Lease>("GET", this.path, { timeoutMs: 2000 }));
        if (cur.spec.holderIdentity !== this.opts.identity) return;
        const now = microTime(new Date());
        await this.rest.request("PUT", this.path, {
          timeoutMs: 2000,
          body: {
            ...cur,
            spec: { ...cur.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now },
          },
        });
        this.opts.log.info({ lease: this.opts.name }, "released lease");
        return;
      } catch (err) {
        this.lease = undefined; // conflict: re-read and check we still hold it
        if (attempt === 2) this.opts.log.warn({ err: (err as Error).message }, "could not release lease");
      }
    }
  }
}
