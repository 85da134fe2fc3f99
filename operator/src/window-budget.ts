import { type ConfigMap, type KubeRest, isKubeError, pairingPath, parsePairing } from "@devreg/kube";
import type { Logger } from "pino";
import type { BudgetSlot } from "./decide.ts";
import { FIELD_MANAGER } from "./status-writer.ts";

interface Claim {
  key: string;
  slot: BudgetSlot;
  resolve: (won: boolean) => void;
  reject: (err: Error) => void;
}

const MAX_CONFLICTS = 50;

/**
 * A window's budget, counted in the pairing ConfigMap itself (data.approvalsUsed) with optimistic
 * concurrency: every increment is a merge-patch carrying the resourceVersion it was computed
 * from, so two operator replicas (or a leader and a stale one) can never both spend the last
 * slot; the loser gets 409, re-reads and recounts. The increment that spends the budget also sets
 * enabled "false": the window closes itself.
 *
 * Claims waiting at the same time share one write (a batch takes as many slots as are left), so
 * 1,000 devices at once cost ~N/batch ConfigMap writes, not 1,000 conflicting ones. A slot is won
 * BEFORE the approval is written; a key that retries (status conflict) keeps the slot it won.
 * If the approval then never lands (the registration was deleted), that slot stays spent: the
 * count can end below N approvals, never above.
 */
export class WindowBudget {
  private readonly queue: Claim[] = [];
  private running = false;
  /** Keys that won a slot, per window id. */
  private readonly won = new Map<string, Set<string>>();
  private latest: ConfigMap | undefined;

  constructor(
    private readonly d: {
      rest: KubeRest;
      namespace: string;
      /** The informer's copy (may lag our own writes; the newer one wins). */
      cached: () => ConfigMap | undefined;
      log: Logger;
      onWrite?: (result: "ok" | "conflict") => void;
    },
  ) {}

  /** Resolves true when `key` holds a slot of `slot.windowId` (now or earlier), false when the budget is spent or the window changed. */
  claim(key: string, slot: BudgetSlot): Promise<boolean> {
    if (this.won.get(slot.windowId)?.has(key)) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.queue.push({ key, slot, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private current(): ConfigMap | undefined {
    const cached = this.d.cached();
    const mine = this.latest;
    if (!mine) return cached;
    if (!cached) return mine;
    // resourceVersions are opaque, but etcd's are integers; anything else: trust the informer.
    const a = Number(cached.metadata.resourceVersion);
    const b = Number(mine.metadata.resourceVersion);
    return Number.isFinite(a) && Number.isFinite(b) && b > a ? mine : cached;
  }

  private async drain(): Promise<void> {
    this.running = true;
    let conflicts = 0;
    try {
      while (this.queue.length > 0) {
        const cm = this.current();
        const st = parsePairing(cm, new Date());
        const win = st.window;
        const windowId = win?.id ?? "";
        // Claims for another window (or a closed one) lose at once.
        for (let i = this.queue.length - 1; i >= 0; i--) {
          const c = this.queue[i] as Claim;
          if (!st.open || c.slot.windowId !== windowId || win?.maxDevices === undefined) {
            this.queue.splice(i, 1);
            c.resolve(false);
          }
        }
        if (this.queue.length === 0 || !cm || win?.maxDevices === undefined) break;
        const left = win.maxDevices - win.approvalsUsed;
        const batch = this.queue.splice(0, Math.max(0, left));
        const used = win.approvalsUsed + batch.length;
        const data: Record<string, string> = { approvalsUsed: String(used) };
        if (used >= win.maxDevices) data.enabled = "false";
        try {
          this.latest = await this.d.rest.request<ConfigMap>("PATCH", pairingPath(this.d.namespace), {
            body: { metadata: { resourceVersion: cm.metadata.resourceVersion }, data },
            contentType: "application/merge-patch+json",
            query: { fieldManager: FIELD_MANAGER },
          });
          this.d.onWrite?.("ok");
          conflicts = 0;
          let set = this.won.get(windowId);
          if (!set) {
            this.won.clear(); // only the current window's winners matter
            set = new Set();
            this.won.set(windowId, set);
          }
          for (const c of batch) {
            set.add(c.key);
            c.resolve(true);
          }
          if (used >= win.maxDevices) {
            this.d.log.info(
              { windowId, maxDevices: win.maxDevices },
              "pairing window budget spent; closed it",
            );
          }
        } catch (err) {
          this.queue.unshift(...batch);
          if (isKubeError(err, "E_KUBE_CONFLICT") && ++conflicts <= MAX_CONFLICTS) {
            this.d.onWrite?.("conflict");
            this.latest = await this.read();
            continue;
          }
          for (const c of this.queue.splice(0)) c.reject(err as Error);
        }
      }
    } catch (err) {
      for (const c of this.queue.splice(0)) c.reject(err as Error);
    } finally {
      this.running = false;
    }
  }

  private async read(): Promise<ConfigMap | undefined> {
    try {
      return await this.d.rest.request<ConfigMap>("GET", pairingPath(this.d.namespace));
    } catch (e) {
      if (isKubeError(e, "E_KUBE_NOT_FOUND")) return undefined;
      throw e;
    }
  }
}
