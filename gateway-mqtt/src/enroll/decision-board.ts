import { EventEmitter } from "node:events";
import {
  type DeviceRegistration,
  FIELD_PHASE,
  Informer,
  LABEL_GATEWAY,
  type KubeRest,
  Registrations,
} from "@devreg/kube";
import { type Decision, decisionOf } from "./decision.ts";
import { slimRegistration } from "./slim-registration.ts";

interface Waiter {
  resolve: (d: { decision?: Decision; reg?: DeviceRegistration }) => void;
  timer: NodeJS.Timeout;
}

export interface WaitResult {
  /** The decision, or undefined when the deadline passed first. */
  decision?: Decision;
  /** The latest copy seen, decided or not. */
  reg?: DeviceRegistration;
}

/**
 * What the board's list+watch asks the apiserver for: this replica's registrations (label) that
 * the operator has written a phase to (the CRD's selectableFields). A phase that is missing
 * selects as "", so a registration this replica has just created is not sent to it until the
 * operator's status write, which then arrives as ADDED: one watch event per enrollment instead
 * of two (ADDED, then MODIFIED). Pending ones (manual mode, AwaitingApproval) stay selected:
 * their re-enrolls are answered from the cache, with the operator's reason, without a request.
 */
export function boardSelection(gatewayId: string): { labelSelector: string; fieldSelector: string } {
  return { labelSelector: `${LABEL_GATEWAY}=${gatewayId}`, fieldSelector: `${FIELD_PHASE}!=` };
}

export interface DecisionBoardEvents {
  /**
   * A cached registration this replica owns changed to a new decision; also one that arrives
   * deactivated (listed at start, adopted from a dead replica after the decision, or deactivated
   * before the operator ever wrote its status), whose connected device is still owed the notice.
   * A registration entering the selection with any other decision is not announced: only the
   * deactivation notice listens, and waiters and followers are resolved either way.
   */
  decided: [reg: DeviceRegistration, decision: Decision, previous: Decision | undefined];
}

/**
 * ONE shared list+watch over this replica's DeviceRegistrations (boardSelection) and the
 * requests waiting on them. A waiting request costs a map entry and a timer — never a request
 * to the apiserver: decisions arrive through the informer's single watch, and the informer's
 * add and update events are the board's only feed. The cache holds only registrations with a
 * phase: one without (just created, or the operator not there yet) is known from the create's
 * or a GET's answer, never from the cache. The watch's DELETED events (a registration deleted,
 * or leaving the selection: relabelled by another replica, its phase removed) only drop the
 * cached copy; nothing here acts on a deletion.
 */
export class DecisionBoard extends EventEmitter<DecisionBoardEvents> {
  readonly informer: Informer<DeviceRegistration>;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** After a "pending" answer: who to tell if the decision still comes (SPEC §14.3). */
  private readonly followers = new Map<
    string,
    { until: number; notify: (d: Decision, reg: DeviceRegistration) => void }[]
  >();
  private followerCount = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private count = 0;
  private readonly keyPrefix: string;

  private readonly path: string;

  constructor(
    private readonly rest: KubeRest,
    readonly namespace: string,
    gatewayId: string,
    private readonly onWaitingChange: (n: number) => void,
  ) {
    super();
    const regs = new Registrations(rest, namespace);
    this.keyPrefix = `${namespace}/`;
    this.path = regs.collectionPath();
    this.informer = new Informer<DeviceRegistration>(rest, {
      path: regs.collectionPath(),
      ...boardSelection(gatewayId),
      resyncMs: 10 * 60_000,
      // One cached registration per connected device: keep only what the gateway reads.
      transform: slimRegistration,
    });
    this.informer.on("add", (obj) => {
      // A registration that arrives already deactivated (adopted from a dead replica after the
      // operator's decision, listed at start, or entering the selection with the operator's first
      // status write) still owes its connected device the notice.
      const now = decisionOf(obj);
      if (now?.status === "deactivated") this.tell(obj, now, undefined);
      this.observe(obj);
    });
    this.informer.on("update", (obj, old) => {
      const now = decisionOf(obj);
      const before = decisionOf(old);
      if (now && (before === undefined || before.status !== now.status)) this.tell(obj, now, before);
      this.observe(obj);
    });
  }

  /** A throwing listener must not break the shared watch (it would re-list and back off). */
  private tell(obj: DeviceRegistration, now: Decision, before: Decision | undefined): void {
    try {
      this.emit("decided", obj, now, before);
    } catch {
      // listeners log their own failures; nothing else to do here
    }
  }

  get waiting(): number {
    return this.count;
  }

  /** The cached copy of a registration this replica owns, if the operator has written its phase. */
  cached(name: string): DeviceRegistration | undefined {
    return this.informer.get(this.keyPrefix + name);
  }

  /** Resolves the waiters and late followers of `obj` once it carries a decision. */
  private observe(obj: DeviceRegistration): void {
    const name = obj.metadata.name;
    const set = this.waiters.get(name);
    const follows = this.followers.get(name);
    if (!set && !follows) return;
    const decision = decisionOf(obj);
    if (!decision) return;
    if (follows) {
      this.followers.delete(name);
      this.followerCount -= follows.length;
      const now = Date.now();
      for (const f of follows) if (f.until > now) f.notify(decision, obj);
    }
    if (!set) return;
    this.waiters.delete(obj.metadata.name);
    for (const w of set) {
      clearTimeout(w.timer);
      this.count--;
      w.resolve({ decision, reg: obj });
    }
    this.onWaitingChange(this.count);
  }

  /**
   * Waits until `name` is decided or `deadline` (epoch ms) passes. A decision whose watch event
   * beat the caller's write (or GET) is already in the cache and answers at once.
   */
  wait(name: string, deadline: number): Promise<WaitResult> {
    const cached = this.cached(name);
    const decision = cached ? decisionOf(cached) : undefined;
    if (decision) return Promise.resolve({ decision, reg: cached });
    return new Promise((resolve) => {
      let set = this.waiters.get(name);
      if (!set) {
        set = new Set();
        this.waiters.set(name, set);
      }
      const w: Waiter = {
        resolve,
        timer: setTimeout(() => this.expire(name, w), Math.max(0, deadline - Date.now())),
      };
      set.add(w);
      this.count++;
      this.onWaitingChange(this.count);
    });
  }

  private expire(name: string, w: Waiter): void {
    const set = this.waiters.get(name);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.waiters.delete(name);
    this.count--;
    this.onWaitingChange(this.count);
    w.resolve({ reg: this.cached(name) });
  }

  /**
   * Calls `notify` if `name` gets decided before `until` (epoch ms). Bounded by `max`
   * followers in all; returns false when full. Costs a map entry, no timer per entry.
   */
  follow(
    name: string,
    until: number,
    max: number,
    notify: (d: Decision, reg: DeviceRegistration) => void,
  ): boolean {
    if (this.followerCount >= max) this.sweepFollowers();
    if (this.followerCount >= max) return false;
    let list = this.followers.get(name);
    if (!list) {
      list = [];
      this.followers.set(name, list);
    }
    list.push({ until, notify });
    this.followerCount++;
    this.sweepTimer ??= setInterval(() => this.sweepFollowers(), 10_000).unref();
    return true;
  }

  private sweepFollowers(): void {
    const now = Date.now();
    for (const [name, list] of this.followers) {
      const live = list.filter((f) => f.until > now);
      this.followerCount -= list.length - live.length;
      if (live.length === 0) this.followers.delete(name);
      else this.followers.set(name, live);
    }
  }

  /** Forgets every follower (stop). */
  dropFollowers(): void {
    this.followers.clear();
    this.followerCount = 0;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Fallback for a registration this replica does not own and could not adopt (no RBAC
   * `patch`): ONE single-object watch for this request, from `resourceVersion`, ended by
   * the decision or the deadline. Rare by construction (an undecided re-enroll that
   * crossed replicas), so it never becomes the per-request watch pattern.
   */
  async watchOne(name: string, resourceVersion: string | undefined, deadline: number): Promise<WaitResult> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    let result: WaitResult = {};
    try {
      await this.rest.watch<DeviceRegistration>(
        this.path,
        {
          fieldSelector: `metadata.name=${name}`,
          resourceVersion,
          timeoutSeconds: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)),
        },
        (ev) => {
          if (ev.type === "BOOKMARK") return;
          const decision = decisionOf(ev.object);
          result = { decision, reg: ev.object };
          if (decision) abort.abort();
        },
        abort.signal,
      );
    } catch {
      // A failed watch is just "no decision yet": the caller answers pending.
    } finally {
      clearTimeout(timer);
    }
    return result;
  }

  /** Moves every deadline to at most `ms` from now (graceful stop). */
  shortenDeadlines(ms: number): void {
    for (const [name, set] of this.waiters) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.timer = setTimeout(() => this.expire(name, w), ms);
      }
    }
  }
}
