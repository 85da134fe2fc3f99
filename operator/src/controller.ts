import { type DeviceAllowance, type DeviceRegistration, keyOf } from "@devreg/kube";
import type { Logger } from "@devreg/runtime";
import type { Caches } from "./caches.ts";
import { isUpToDate } from "./decide.ts";
import type { Reconciler } from "./reconciler.ts";
import { WorkQueue } from "./work-queue.ts";

export interface ControllerDeps {
  caches: Pick<Caches, "registrations" | "allowances" | "keyIndex">;
  reconciler: Pick<Reconciler, "reconcile" | "observed">;
  concurrency: number;
  log: Logger;
}

/**
 * Feeds registrations that need a decision to the reconciler, through a keyed work queue that
 * exists only while this replica leads. Level-triggered: informer events say which keys to
 * look at, and taking over the lead queues every registration not decided for its generation.
 */
export class Controller {
  private queue: WorkQueue | undefined;

  constructor(private readonly d: ControllerDeps) {
    const { registrations, allowances } = d.caches;
    const onRegistration = (obj: DeviceRegistration) => {
      d.reconciler.observed(keyOf(obj.metadata), obj);
      this.enqueue(obj);
    };
    registrations.on("add", onRegistration);
    registrations.on("update", onRegistration);
    registrations.on("delete", (obj) => d.reconciler.observed(keyOf(obj.metadata), undefined));
    allowances.on("add", (a) => this.requeueHolders(a));
    allowances.on("update", (a) => this.requeueHolders(a));
  }

  /** Keys waiting to be reconciled (0 while not leading). */
  get depth(): number {
    return this.queue?.depth ?? 0;
  }

  startLeading(): void {
    this.queue = new WorkQueue({
      concurrency: this.d.concurrency,
      handler: (key) => this.d.reconciler.reconcile(key),
      onError: (key, err, retryInMs) =>
        this.d.log.warn(
          { registration: key, err: (err as Error).message, retryInMs },
          "reconcile failed; requeued",
        ),
    });
    for (const obj of this.d.caches.registrations.values()) this.enqueue(obj);
  }

  /** Stops taking work; resolves when the reconciles in flight have finished. */
  async stopLeading(): Promise<void> {
    const q = this.queue;
    this.queue = undefined;
    await q?.shutDown();
  }

  private enqueue(obj: DeviceRegistration): void {
    if (this.queue && !isUpToDate(obj)) this.queue.add(keyOf(obj.metadata));
  }

  /** A new allowance may decide registrations already waiting for their key. */
  private requeueHolders(a: DeviceAllowance): void {
    if (!this.queue) return;
    for (const key of this.d.caches.keyIndex.keysFor(a.spec?.publicKey)) {
      const obj = this.d.caches.registrations.get(key);
      if (obj) this.enqueue(obj);
    }
  }
}
