import type { KubeRest } from "@devreg/kube";
import { eventsPath, rfc3339 } from "@devreg/kube";
import { TokenBucket } from "@devreg/runtime";
import type { Logger } from "pino";

/** What an Event is about (core/v1 ObjectReference). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventRecorderOptions {
  component: string;
  /** This replica (source.host / reportingInstance). */
  instance: string;
  /** Events waiting to be sent; beyond this new ones are dropped and counted. */
  queueSize: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Sustained Events per second, and the burst above it (a client-side token bucket). */
  qps: number;
  burst: number;
  log: Logger;
  onDropped?: () => void;
  onSent?: () => void;
  onFailed?: () => void;
}

const YIELD_POLL_MS = 100;

interface Pending {
  ref: ObjectRef;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  at: Date;
}

/**
 * Best-effort core/v1 Events, like client-go's broadcaster: `record` never blocks or throws;
 * a bounded queue is drained by a few senders under a token bucket, and not at all while the
 * reconciler has a backlog (`yieldWhile`), so Events never take apiserver time from decisions.
 * A full queue drops and counts.
 */
export class EventRecorder {
  private readonly queue: Pending[] = [];
  private active = 0;
  private readonly bucket: TokenBucket;
  private busy: () => boolean = () => false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private seq = 0;
  private flushWaiters: Array<() => void> = [];

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: EventRecorderOptions,
  ) {
    this.bucket = new TokenBucket({ ratePerSecond: opts.qps, burst: opts.burst });
  }

  /**
   * While `busy` says true (the reconciler has a backlog), nothing is sent: Events and decisions
   * share one apiserver, and decisions come first. Queued Events wait (or drop when full).
   */
  yieldWhile(busy: () => boolean): void {
    this.busy = busy;
  }

  get pending(): number {
    return this.queue.length + this.active;
  }

  record(ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.stopped || this.queue.length >= this.opts.queueSize) {
      this.opts.onDropped?.();
      return;
    }
    this.queue.push({ ref, type, reason, message, at: new Date() });
    this.pump();
  }

  /** Waits until the queue is empty, at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(t);
        self.flushWaiters = self.flushWaiters.filter((w) => w !== done);
        resolve();
      }
      this.flushWaiters.push(done);
    });
  }

  /**
   * Drops what is still queued (counted) and stops sending; resolves when the requests already
   * in flight have ended (at most `timeoutMs`), so closing the client does not cut them off.
   */
  async stop(timeoutMs = 1_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (let i = 0; i < this.queue.length; i++) this.opts.onDropped?.();
    this.queue.length = 0;
    this.notifyFlushed();
    await this.flush(timeoutMs);
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency && this.queue.length > 0 && !this.timer) {
      const wait = this.busy() ? YIELD_POLL_MS : this.bucket.tryTake() ? 0 : this.bucket.msUntil();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        this.timer.unref?.();
        return;
      }
      const ev = this.queue.shift() as Pending;
      this.active++;
      void this.send(ev).finally(() => {
        this.active--;
        this.pump();
        this.notifyFlushed();
      });
    }
  }

  private notifyFlushed(): void {
    if (this.pending === 0) for (const w of [...this.flushWaiters]) w();
  }

  private async send(ev: Pending): Promise<void> {
    const ts = rfc3339(ev.at);
    // client-go names Events <object>.<unix nanos in hex>; a sequence keeps them unique here.
    const suffix = (BigInt(ev.at.getTime()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16);
    const body = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${ev.ref.name}.${suffix}`, namespace: ev.ref.namespace },
      involvedObject: ev.ref,
      type: ev.type,
      reason: ev.reason,
      message: ev.message.slice(0, 1024),
      source: { component: this.opts.component, host: this.opts.instance },
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    };
    try {
      await this.rest.request("POST", eventsPath(ev.ref.namespace), {
        body,
        timeoutMs: 10_000,
      });
      this.opts.onSent?.();
    } catch (err) {
      this.opts.onFailed?.();
      this.opts.log.warn(
        { err: (err as Error).message, object: ev.ref.name, reason: ev.reason },
        "event not recorded",
      );
    }
  }
}
