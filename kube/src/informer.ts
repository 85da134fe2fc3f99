import { EventEmitter } from "node:events";
import { KubeError, isKubeError } from "./errors.ts";
import type { KubeRest } from "./rest.ts";
import type { ObjectMeta } from "./types.ts";

export interface InformerOptions<T = unknown> {
  /** Collection path, e.g. /api/v1/namespaces/ns/configmaps */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Full re-list this often, to heal anything a watch missed. */
  resyncMs?: number;
  /** Server-side watch timeout; the informer reconnects from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  backoffInitialMs?: number;
  /**
   * Cap of the retry backoff (default 2 s). The backoff also resets as soon as the server
   * answers any request made through the same KubeRest (KubeRest.onAnswered): an informer
   * never sleeps out a long backoff after the apiserver is back.
   */
  backoffMaxMs?: number;
  /**
   * Bound of each list page (default 10 s). A list sent while etcd is down hangs until the
   * apiserver gives up; without a bound it would hold the informer for the client's 30 s.
   */
  listTimeoutMs?: number;
  /**
   * Applied to every object before it is cached or emitted (client-go's SetTransform), e.g.
   * to drop metadata.managedFields: ~3.6 KiB per DeviceRegistration that a cache of 10,000
   * would otherwise keep for nothing.
   */
  transform?: (obj: T) => T;
}

/** An Informer transform that drops metadata.managedFields (for caches that never read it). */
export function dropManagedFields<T extends { metadata: ObjectMeta }>(obj: T): T {
  if ((obj.metadata as { managedFields?: unknown }).managedFields !== undefined) {
    delete (obj.metadata as { managedFields?: unknown }).managedFields;
  }
  return obj;
}

export interface InformerEvents<T> {
  add: [obj: T];
  update: [obj: T, old: T];
  delete: [obj: T];
  /** After each successful list (first and every re-list). */
  synced: [];
  /** A list or watch failed; the informer retries by itself with backoff. */
  error: [err: Error, retryInMs: number];
  /**
   * A listener threw. The other listeners still got the event and the watch goes on: one buggy
   * handler neither loses an event for the rest nor stops the cache (as client-go isolates them).
   */
  listenerError: [err: Error, event: DeliveredEvent];
}

/** The events whose listeners are isolated from each other and from the watch. */
type DeliveredEvent = Exclude<keyof InformerEvents<unknown>, "listenerError">;

export function keyOf(meta: ObjectMeta): string {
  return `${meta.namespace ?? ""}/${meta.name}`;
}

/**
 * List+watch cache for one collection. Unlike client-node's informer it restarts itself:
 * it resumes from the last resourceVersion, re-lists on 410 Gone, backs off (bounded,
 * jittered) after any error, and re-lists periodically. A listener that throws is reported
 * ("listenerError") and affects neither the other listeners nor the watch.
 * (Tested against a fault-injecting fake apiserver: informer.test.ts.)
 */
export class Informer<T extends { metadata: ObjectMeta }> extends EventEmitter<InformerEvents<T>> {
  private readonly store = new Map<string, T>();
  private resourceVersion: string | undefined;
  private lastListAt = 0;
  private running = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private wake: (() => void) | undefined;
  /** The last list or watch failed and nothing succeeded since. */
  private failing = false;
  /** Set when the server answered while we were failing: the next retry starts at once, with a fresh backoff. */
  private serverAnswered = false;
  /** The list in flight, so an answer from the server can cut short one sent during the outage. */
  private listing: { startedAt: number; abort: AbortController } | undefined;
  private unsubscribeAnswered: (() => void) | undefined;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: InformerOptions<T>,
  ) {
    super();
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  values(): IterableIterator<T> {
    return this.store.values();
  }

  get size(): number {
    return this.store.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.unsubscribeAnswered = this.rest.onAnswered(() => this.onServerAnswered());
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribeAnswered?.();
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }

  waitForSync(timeoutMs = 30_000): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new KubeError("E_KUBE_TIMEOUT", `informer ${this.opts.path} did not sync in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.syncWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * Another request through our KubeRest got a 2xx: the server is back. If we are failing,
   * retry now with a fresh backoff, and give up a list that was sent during the outage
   * (it may hang until the apiserver's own etcd timeout) instead of waiting it out.
   */
  private onServerAnswered(): void {
    if (!this.failing) return;
    this.serverAnswered = true;
    this.wake?.();
    const l = this.listing;
    if (l && Date.now() - l.startedAt > 1000) l.abort.abort();
  }

  private async run(): Promise<void> {
    const initial = this.opts.backoffInitialMs ?? 200;
    const max = this.opts.backoffMaxMs ?? 2_000;
    const resyncMs = this.opts.resyncMs ?? 5 * 60_000;
    let backoff = initial;
    while (this.running) {
      try {
        if (!this.resourceVersion || Date.now() - this.lastListAt > resyncMs) {
          await this.relist();
          backoff = initial;
        }
        await this.rest.watch<T>(
          this.opts.path,
          {
            resourceVersion: this.resourceVersion,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            timeoutSeconds: Math.min(this.opts.watchTimeoutSeconds ?? 300, Math.ceil(resyncMs / 1000)),
          },
          (ev) => {
            this.failing = false;
            backoff = initial;
            if (ev.object.metadata?.resourceVersion) this.resourceVersion = ev.object.metadata.resourceVersion;
            if (ev.type === "BOOKMARK") return;
            const obj = this.opts.transform ? this.opts.transform(ev.object) : ev.object;
            const key = keyOf(obj.metadata);
            const old = this.store.get(key);
            if (ev.type === "DELETED") {
              this.store.delete(key);
              this.deliver("delete", obj);
            } else {
              this.store.set(key, obj);
              if (old) this.deliver("update", obj, old);
              else this.deliver("add", obj);
            }
          },
          this.abort.signal,
        );
        backoff = initial;
      } catch (err) {
        if (!this.running) break;
        if (isKubeError(err, "E_KUBE_GONE")) {
          // [k8s API concepts] 410: our resourceVersion is too old; only a fresh list recovers.
          this.resourceVersion = undefined;
          continue;
        }
        this.failing = true;
        if (this.serverAnswered) {
          // The server answered someone else meanwhile: retry now, from the initial backoff.
          this.serverAnswered = false;
          backoff = initial;
          this.deliver("error", err as Error, 0);
          continue;
        }
        const wait = Math.min(max, backoff) * (0.5 + Math.random() / 2);
        backoff = Math.min(max, backoff * 2);
        this.deliver("error", err as Error, Math.round(wait));
        await this.sleep(wait);
        if (this.serverAnswered) {
          this.serverAnswered = false;
          backoff = initial;
        }
      }
    }
  }

  /**
   * Calls each listener of `event` on its own: a throw is reported as "listenerError" and the
   * next listener still runs. Without this a throw escaped into the watch callback, ended the
   * watch after the store was updated, and the event was lost for good. ("error" goes this way
   * too: with no listener, EventEmitter would throw it and end the loop.)
   */
  private deliver<K extends DeliveredEvent>(event: K, ...args: InformerEvents<T>[K]): void {
    for (const listener of this.rawListeners(event) as Array<(...a: InformerEvents<T>[K]) => void>) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.reportListenerError(err, event);
      }
    }
  }

  private reportListenerError(err: unknown, event: DeliveredEvent): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount("listenerError") === 0) {
      process.emitWarning(error, { code: "DEVREG_INFORMER_LISTENER", detail: `an informer "${event}" listener threw` });
      return;
    }
    try {
      this.emit("listenerError", error, event);
    } catch {
      // a throwing error reporter must not end the watch either
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const seen = new Set<string>();
    const listAbort = new AbortController();
    const stopListing = () => listAbort.abort();
    this.abort.signal.addEventListener("abort", stopListing, { once: true });
    this.listing = { startedAt: Date.now(), abort: listAbort };
    let listed: { items: T[]; resourceVersion?: string };
    try {
      listed = await this.rest.listAll<T>(
        this.opts.path,
        { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector },
        { signal: listAbort.signal, timeoutMs: this.opts.listTimeoutMs ?? 10_000 },
      );
    } finally {
      this.listing = undefined;
      this.abort.signal.removeEventListener("abort", stopListing);
    }
    const { items, resourceVersion: rv } = listed;
    this.failing = false;
    for (const item of items) {
      const obj = this.opts.transform ? this.opts.transform(item) : item;
      const key = keyOf(obj.metadata);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.deliver("add", obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.deliver("update", obj, old);
    }
    for (const [key, obj] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.deliver("delete", obj);
      }
    }
    this.resourceVersion = rv;
    this.lastListAt = Date.now();
    this.synced = true;
    this.deliver("synced");
    for (const w of this.syncWaiters.splice(0)) w();
  }
}
