import { type DeviceRegistration, type Informer, type Registrations, isKubeError } from "@devreg/kube";
import type { Logger } from "pino";
import { type Decision, type Transition, decide } from "./decide.ts";
import { OperatorError } from "./errors.ts";
import type { ObjectRef } from "./events.ts";
import { type KeyIndex, keyOwner } from "./key-owner.ts";
import type { OperatorMetrics } from "./metrics.ts";
import type { PairingState } from "./pairing.ts";
import { type CompiledSelector, type Selector, compileSelector } from "./selector.ts";
import type { DeviceIdOf } from "./spec-validation.ts";
import { writeStatus } from "./status-writer.ts";
import type { WindowBudget } from "./window-budget.ts";

/** A decision the operator wrote (for logs, tests and benchmarks). */
export interface DecisionRecord {
  namespace: string;
  name: string;
  phase: Transition["phase"];
  reason: string;
  deviceUUID?: string;
  decidedBy: string;
  at: Date;
}

export interface ReconcilerDeps {
  regs: Registrations;
  cache: Informer<DeviceRegistration>;
  keyIndex: KeyIndex;
  pairing: () => PairingState;
  /** Counts a budgeted window's approvals (exactly N, across replicas). */
  budget?: WindowBudget;
  /** The DeviceAllowance that pre-registers this base64 public key, if any. */
  allowanceFor?: (publicKey: string) => string | undefined;
  /** An allowlist entry approved `registration`: record it on the entry (audit). */
  onAllowanceUsed?: (allowance: string, registration: string) => void;
  recordEvent: (ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string) => void;
  /** Also record an Event for each approval (see OperatorConfig.approvalEvents). */
  approvalEvents?: boolean;
  metrics: OperatorMetrics;
  log: Logger;
  newUUID: () => string;
  deviceIdOf: DeviceIdOf;
  now?: () => Date;
  onDecision?: (d: DecisionRecord) => void;
  /** Fresh-read-and-retry rounds on 409 before the key goes back to the queue with backoff. */
  maxConflictRetries?: number;
}

/**
 * Reconciles one key: read the cached object, decide (pure), write status through the status
 * subresource with the object's resourceVersion as a precondition. A 409 means someone wrote
 * in between, so we re-read and decide again; the precondition is also what guarantees a UUID
 * is never minted twice even if the cache lags.
 */
export class Reconciler {
  /** Our own recent writes, until the informer has caught up with them (read-your-writes). */
  private readonly written = new Map<string, { fromResourceVersion: string; obj: DeviceRegistration }>();
  private readonly now: () => Date;
  private compiled: { source: string; result: CompiledSelector } | undefined;

  constructor(private readonly d: ReconcilerDeps) {
    this.now = d.now ?? (() => new Date());
  }

  /** The informer saw a newer version (or deletion) of `key`: our write cache is no longer needed. */
  observed(key: string, obj: DeviceRegistration | undefined): void {
    const w = this.written.get(key);
    if (w && (!obj || obj.metadata.resourceVersion !== w.fromResourceVersion)) this.written.delete(key);
  }

  async reconcile(key: string): Promise<void> {
    const { metrics } = this.d;
    const end = metrics.reconcileSeconds.startTimer();
    try {
      const result = await this.reconcileOnce(key);
      metrics.reconciles.inc({ result });
    } catch (err) {
      metrics.reconciles.inc({ result: "error" });
      metrics.errors.inc({ code: (err as { code?: string }).code ?? "E_UNKNOWN" });
      throw err;
    } finally {
      end();
    }
  }

  private current(key: string): DeviceRegistration | undefined {
    const cached = this.d.cache.get(key);
    const w = this.written.get(key);
    if (cached && w && cached.metadata.resourceVersion === w.fromResourceVersion) return w.obj;
    return cached;
  }

  private async reconcileOnce(key: string): Promise<"written" | "skipped" | "gone"> {
    let obj = this.current(key);
    if (!obj) return "gone";
    const maxRetries = this.d.maxConflictRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      const now = this.now();
      let { pairing, selector } = this.policy();
      const pk = obj.spec?.publicKey;
      const ctx = {
        newUUID: this.d.newUUID,
        deviceIdOf: this.d.deviceIdOf,
        keyOwner: this.ownerOf(key, obj),
        selector,
        allowance: typeof pk === "string" ? this.d.allowanceFor?.(pk) : undefined,
      };
      let decision = decide(obj, pairing, now, ctx);
      if (decision.action === "update" && decision.slot && this.d.budget) {
        // A budgeted window: win a slot first, or be refused like any request after it closed.
        if (!(await this.d.budget.claim(key, decision.slot))) {
          pairing = {
            ...pairing,
            open: false,
            code: "PairingBudgetSpent",
            reason: `the pairing window's budget of ${decision.slot.maxDevices} approvals is spent`,
          };
          decision = decide(obj, pairing, now, ctx);
        }
      }
      if (decision.action === "skip") return "skipped";
      try {
        const updated = await writeStatus(
          this.d.regs,
          obj.metadata.name,
          decision.status,
          obj.metadata.resourceVersion,
        );
        const from = obj.metadata.resourceVersion ?? "";
        // Remember the write only while the cache still shows the version we wrote over.
        if (this.d.cache.get(key)?.metadata.resourceVersion === from)
          this.written.set(key, { fromResourceVersion: from, obj: updated });
        this.announce(updated, decision, now);
        const source = decision.status.approvedBy;
        if (source?.kind === "Allowlist" && source.allowance)
          this.d.onAllowanceUsed?.(source.allowance, updated.metadata.name);
        return "written";
      } catch (err) {
        if (isKubeError(err, "E_KUBE_NOT_FOUND")) return "gone";
        if (!isKubeError(err, "E_KUBE_CONFLICT")) throw err;
        this.d.metrics.conflicts.inc();
        if (attempt >= maxRetries) {
          throw new OperatorError(
            "E_CONFLICT_RETRIES",
            `${key}: status write conflicted ${attempt + 1} times`,
          );
        }
        try {
          obj = await this.d.regs.get(obj.metadata.name);
        } catch (e) {
          if (isKubeError(e, "E_KUBE_NOT_FOUND")) return "gone";
          throw e;
        }
      }
    }
  }

  /** Pairing, with the window's selector compiled once; a selector that does not compile closes the window. */
  private policy(): { pairing: PairingState; selector?: Selector } {
    const pairing = this.d.pairing();
    const source = pairing.window?.selector;
    if (!pairing.open || source === undefined) return { pairing };
    if (this.compiled?.source !== source) this.compiled = { source, result: compileSelector(source) };
    const r = this.compiled.result;
    if (r.ok) return { pairing, selector: r.selector };
    return {
      pairing: {
        ...pairing,
        open: false,
        code: "PairingConfigInvalid",
        reason: `the pairing window's selector is invalid (${r.error}); pairing is off`,
      },
    };
  }

  /** Only consulted when another registration holds the same public key (rare). */
  private ownerOf(key: string, obj: DeviceRegistration): string | undefined {
    const pk = obj.spec?.publicKey;
    if (typeof pk !== "string") return undefined;
    const peers = this.d.keyIndex.peers(key, pk);
    if (peers.length === 0) return undefined;
    const candidates = [obj];
    for (const p of peers) {
      const peer = this.current(p);
      if (peer && peer.spec?.publicKey === pk) candidates.push(peer);
    }
    return keyOwner(candidates, this.d.deviceIdOf);
  }

  private announce(obj: DeviceRegistration, decision: Decision, at: Date): void {
    if (decision.action !== "update" || !decision.transition) return;
    const t = decision.transition;
    const { metadata } = obj;
    const namespace = metadata.namespace ?? this.d.regs.namespace;
    const deviceUUID = obj.status?.deviceUUID;
    this.d.metrics.decisions.inc({ outcome: t.phase, reason: t.reason });
    this.d.log.info(
      {
        registration: metadata.name,
        namespace,
        phase: t.phase,
        reason: t.reason,
        deviceUUID,
        decidedBy: t.decidedBy,
      },
      "decision",
    );
    if (t.eventReason !== "Approved" || this.d.approvalEvents)
      this.d.recordEvent(
        {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: metadata.name,
          namespace,
          uid: metadata.uid,
          resourceVersion: metadata.resourceVersion,
        },
        t.eventType,
        t.eventReason,
        t.message,
      );
    this.d.onDecision?.({
      namespace,
      name: metadata.name,
      phase: t.phase,
      reason: t.reason,
      deviceUUID,
      decidedBy: t.decidedBy,
      at,
    });
  }
}
