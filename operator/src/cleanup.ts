import { type DeviceRegistration, type Registrations, isKubeError } from "@devreg/kube";
import type { Logger } from "pino";
import { RETRYABLE_REJECTIONS } from "./decide.ts";

export interface CleanupTtls {
  /** Rejected for a reason that stays (InvalidSpec, SelectorMismatch, DeniedByAdmin, …). */
  rejectedTtlMs: number;
  /** Rejected for a reason waiting may fix (PairingDisabled): short, and none once pairing opens. */
  retryableRejectedTtlMs: number;
  /** Pending (undecided, or awaiting an admin) since creation. */
  pendingTtlMs: number;
}

export type CleanupCause = "Rejected" | "RetryableRejected" | "Pending";

/**
 * Pure: whether `reg` is due for deletion at `now`, and why (like the CSR cleaner:
 * kubernetes/pkg/controller/certificates/cleaner). Approved and Deactivated never are: they
 * hold a device's UUID. `pairingOpen`: a retryable rejection is due at once, so the device's
 * next request starts afresh in the open window.
 */
export function dueForDeletion(
  reg: DeviceRegistration,
  now: Date,
  ttls: CleanupTtls,
  pairingOpen: boolean,
): CleanupCause | undefined {
  if (reg.metadata.deletionTimestamp) return undefined;
  const st = reg.status;
  const age = (at: string | undefined) => {
    const t = at ? Date.parse(at) : Number.NaN;
    return Number.isNaN(t) ? undefined : now.getTime() - t;
  };
  if (st?.phase === "Rejected") {
    // A rejection the admin has since asked to re-decide (spec changed) is not garbage yet.
    if (st.observedGeneration !== (reg.metadata.generation ?? 0)) return undefined;
    const since = age(st.decidedAt) ?? age(reg.metadata.creationTimestamp);
    if (since === undefined) return undefined;
    if (RETRYABLE_REJECTIONS.has(st.reason ?? "")) {
      return pairingOpen || since >= ttls.retryableRejectedTtlMs ? "RetryableRejected" : undefined;
    }
    return since >= ttls.rejectedTtlMs ? "Rejected" : undefined;
  }
  if (st?.phase === undefined || st.phase === "Pending") {
    const since = age(reg.metadata.creationTimestamp);
    return since !== undefined && since >= ttls.pendingTtlMs ? "Pending" : undefined;
  }
  return undefined;
}

/**
 * The leader's sweeper: every `intervalMs` (and when pairing opens) it deletes what
 * dueForDeletion says, each with preconditions on uid and resourceVersion, so an object that
 * was decided or replaced since the cache saw it is never deleted by mistake.
 */
export class Cleaner {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly d: {
      regs: Registrations;
      values: () => Iterable<DeviceRegistration>;
      ttls: CleanupTtls;
      intervalMs: number;
      pairingOpen: () => boolean;
      log: Logger;
      onDeleted: (cause: CleanupCause) => void;
      now?: () => Date;
    },
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.sweep(), this.d.intervalMs);
    this.timer.unref?.();
    void this.sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass (concurrent calls share it). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const now = this.d.now?.() ?? new Date();
    const open = this.d.pairingOpen();
    const due: Array<[DeviceRegistration, CleanupCause]> = [];
    for (const reg of this.d.values()) {
      const cause = dueForDeletion(reg, now, this.d.ttls, open);
      if (cause) due.push([reg, cause]);
    }
    for (const [reg, cause] of due) {
      if (!this.timer) return; // stopped leading
      try {
        await this.d.regs.delete(reg.metadata.name, {
          preconditions: { uid: reg.metadata.uid, resourceVersion: reg.metadata.resourceVersion },
        });
        this.d.onDeleted(cause);
        this.d.log.info(
          { registration: reg.metadata.name, cause, reason: reg.status?.reason },
          "deleted an expired registration",
        );
      } catch (e) {
        if (isKubeError(e, "E_KUBE_NOT_FOUND") || isKubeError(e, "E_KUBE_CONFLICT")) continue;
        this.d.log.warn(
          { registration: reg.metadata.name, err: (e as Error).message },
          "cleanup delete failed",
        );
      }
    }
  }
}
