import { type DeviceRegistration, type DeviceRegistrationStatus, type Phase, rfc3339, setCondition } from "@devreg/kube";
import type { PairingState } from "./pairing.ts";
import { type DeviceIdOf, validateSpec } from "./spec-validation.ts";

/** The one condition the operator maintains: `kubectl wait --for=condition=Approved devreg/<name>`. */
export const CONDITION_APPROVED = "Approved";

/** status.reason values (CamelCase, stable: tooling and alerts may match on them). */
export const Reason = {
  PairingWindowOpen: "PairingWindowOpen",
  PairingDisabled: "PairingDisabled",
  InvalidSpec: "InvalidSpec",
  DuplicatePublicKey: "DuplicatePublicKey",
  DeactivatedByAdmin: "DeactivatedByAdmin",
  Reactivated: "Reactivated",
  NeverApproved: "NeverApproved",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** status.decidedBy values; admin decisions add the field manager: "admin:kubectl-patch". */
export const DecidedBy = {
  PairingWindow: "pairing-window",
  SpecValidation: "spec-validation",
  Admin: "admin",
} as const;

export interface DecideContext {
  /** Mints a UUID v4; only called when approving a registration that has none. */
  newUUID: () => string;
  deviceIdOf: DeviceIdOf;
  /** Name of the registration that owns this public key (key-owner.ts); undefined when alone. */
  keyOwner?: string;
}

/** A phase change: what the Event and the decision metric report. */
export interface Transition {
  phase: Exclude<Phase, "Pending">;
  reason: Reason;
  message: string;
  decidedBy: string;
  eventType: "Normal" | "Warning";
  /** Event reason: the verb (Approved, Rejected, Deactivated, Reactivated). */
  eventReason: string;
}

export type Decision =
  | { action: "skip"; why: string }
  /** Merge-patch for the status subresource; `transition` absent = only observedGeneration moves. */
  | { action: "update"; status: DeviceRegistrationStatus; transition?: Transition };

const DECIDED = new Set<Phase | undefined>(["Approved", "Rejected", "Deactivated"]);
const MAX_MESSAGE = 1024;

/** True when nothing is left to do: a decided phase for the current generation (or deleting). */
export function isUpToDate(reg: DeviceRegistration): boolean {
  if (reg.metadata.deletionTimestamp) return true;
  const st = reg.status;
  return DECIDED.has(st?.phase) && st?.observedGeneration === (reg.metadata.generation ?? 0);
}

/**
 * Pure: the status a registration should have, given pairing and time. Never does I/O; the
 * caller writes the result through the status subresource with the object's resourceVersion.
 *
 *  - decided for this generation                       -> skip
 *  - spec.deactivate true                              -> Deactivated (UUID kept), by admin
 *  - Deactivated and spec.deactivate false/absent      -> Approved/Reactivated if it has a UUID,
 *                                                         else Rejected/NeverApproved, by admin
 *  - Approved or Rejected, spec changed otherwise      -> unchanged (sticky); observedGeneration only
 *  - undecided, invalid spec / not the key's owner     -> Rejected/InvalidSpec | DuplicatePublicKey
 *  - undecided, pairing open                           -> Approved, UUID (existing one, or new)
 *  - undecided, pairing closed (any reason)            -> Rejected/PairingDisabled
 */
export function decide(reg: DeviceRegistration, pairing: PairingState, now: Date, ctx: DecideContext): Decision {
  if (reg.metadata.deletionTimestamp) return { action: "skip", why: "being deleted" };
  const gen = reg.metadata.generation ?? 0;
  const st = reg.status ?? {};
  const decided = DECIDED.has(st.phase);
  if (decided && st.observedGeneration === gen) return { action: "skip", why: "decided for this generation" };

  const deactivate = reg.spec?.deactivate === true;
  if (deactivate) {
    if (st.phase === "Deactivated") return bump(reg, gen, now);
    const by = adminDecidedBy(reg);
    const message = st.deviceUUID
      ? `deactivated by ${by}; the device keeps UUID ${st.deviceUUID} and is refused until reactivated`
      : `deactivated by ${by} before it was ever approved (no UUID)`;
    return transition(reg, gen, now, {
      phase: "Deactivated",
      reason: Reason.DeactivatedByAdmin,
      message,
      decidedBy: by,
      eventType: "Normal",
      eventReason: "Deactivated",
    });
  }

  if (st.phase === "Deactivated") {
    const by = adminDecidedBy(reg);
    if (st.deviceUUID) {
      return transition(reg, gen, now, {
        phase: "Approved",
        reason: Reason.Reactivated,
        message: `reactivated by ${by} with its UUID ${st.deviceUUID}`,
        decidedBy: by,
        eventType: "Normal",
        eventReason: "Reactivated",
      });
    }
    return transition(reg, gen, now, {
      phase: "Rejected",
      reason: Reason.NeverApproved,
      message: `reactivated by ${by}, but it was never approved (no UUID); delete it to let the device enroll again`,
      decidedBy: by,
      eventType: "Warning",
      eventReason: "Rejected",
    });
  }

  // A decision is sticky: later pairing flips or spec edits never change it silently.
  if (decided) return bump(reg, gen, now);

  const check = validateSpec(reg, ctx.deviceIdOf);
  if (!check.ok) {
    return transition(reg, gen, now, {
      phase: "Rejected",
      reason: Reason.InvalidSpec,
      message: `invalid spec: ${check.problems.join("; ")}`,
      decidedBy: DecidedBy.SpecValidation,
      eventType: "Warning",
      eventReason: "Rejected",
    });
  }
  if (ctx.keyOwner !== undefined && ctx.keyOwner !== reg.metadata.name) {
    return transition(reg, gen, now, {
      phase: "Rejected",
      reason: Reason.DuplicatePublicKey,
      message: `registration ${ctx.keyOwner} already holds this public key; one key gets one UUID`,
      decidedBy: DecidedBy.SpecValidation,
      eventType: "Warning",
      eventReason: "Rejected",
    });
  }
  if (pairing.open) {
    const uuid = st.deviceUUID ?? ctx.newUUID();
    return transition(
      reg,
      gen,
      now,
      {
        phase: "Approved",
        reason: Reason.PairingWindowOpen,
        message: `approved with UUID ${uuid}: ${pairing.reason}`,
        decidedBy: DecidedBy.PairingWindow,
        eventType: "Normal",
        eventReason: "Approved",
      },
      uuid,
    );
  }
  return transition(reg, gen, now, {
    phase: "Rejected",
    reason: Reason.PairingDisabled,
    message: `rejected: ${pairing.reason}. To let this device enroll, open a pairing window and delete this registration; the device retries`,
    decidedBy: DecidedBy.PairingWindow,
    eventType: "Warning",
    eventReason: "Rejected",
  });
}

function transition(reg: DeviceRegistration, gen: number, now: Date, t: Transition, uuid?: string): Decision {
  const st = reg.status ?? {};
  const message = truncate(t.message, MAX_MESSAGE);
  const t2 = { ...t, message };
  const status: DeviceRegistrationStatus = {
    phase: t.phase,
    reason: t.reason,
    message,
    decidedBy: truncate(t.decidedBy, 256),
    decidedAt: rfc3339(now),
    observedGeneration: gen,
    conditions: setCondition(
      st.conditions,
      {
        type: CONDITION_APPROVED,
        status: t.phase === "Approved" ? "True" : "False",
        reason: t.reason,
        message,
        observedGeneration: gen,
      },
      now,
    ),
  };
  // Never drop or replace a UUID once minted.
  const deviceUUID = st.deviceUUID ?? uuid;
  if (deviceUUID) status.deviceUUID = deviceUUID;
  return { action: "update", status, transition: t2 };
}

/** Same decision, newer generation: move observedGeneration (and the condition's) only. */
function bump(reg: DeviceRegistration, gen: number, now: Date): Decision {
  const st = reg.status ?? {};
  const cond = st.conditions?.find((c) => c.type === CONDITION_APPROVED);
  const conditions = setCondition(
    st.conditions,
    {
      type: CONDITION_APPROVED,
      status: cond?.status ?? (st.phase === "Approved" ? "True" : "False"),
      reason: cond?.reason ?? st.reason ?? st.phase ?? "Unknown",
      message: cond?.message ?? st.message ?? "",
      observedGeneration: gen,
    },
    now,
  );
  return { action: "update", status: { observedGeneration: gen, conditions } };
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string;
  subresource?: string;
  fieldsV1?: { "f:spec"?: Record<string, unknown> };
}

/**
 * The field manager that last set spec.deactivate (server-side field ownership: with Update
 * operations a field moves to whoever wrote it last), e.g. "kubectl-patch" or "devreg-cli".
 */
export function deactivateManager(reg: DeviceRegistration): string | undefined {
  const entries = (reg.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? [];
  let best: ManagedFieldsEntry | undefined;
  for (const e of entries) {
    if (e.subresource || !e.manager || !e.fieldsV1?.["f:spec"] || !("f:deactivate" in e.fieldsV1["f:spec"])) continue;
    if (!best || (e.time ?? "") >= (best.time ?? "")) best = e;
  }
  return best?.manager;
}

/**
 * Informer transform: keeps of metadata.managedFields only what deactivateManager reads (the
 * entries owning spec.deactivate, without their other fields). The full list is ~3.6 KiB per
 * registration, and the operator caches every registration. Mutates and returns `reg`.
 */
export function compactManagedFields(reg: DeviceRegistration): DeviceRegistration {
  const meta = reg.metadata as { managedFields?: ManagedFieldsEntry[] };
  if (!meta.managedFields) return reg;
  const kept: ManagedFieldsEntry[] = [];
  for (const e of meta.managedFields) {
    const spec = e.fieldsV1?.["f:spec"];
    if (e.subresource || !e.manager || !spec || !("f:deactivate" in spec)) continue;
    kept.push({ manager: e.manager, operation: e.operation, time: e.time, fieldsV1: { "f:spec": { "f:deactivate": {} } } });
  }
  if (kept.length > 0) meta.managedFields = kept;
  else delete meta.managedFields;
  return reg;
}

function adminDecidedBy(reg: DeviceRegistration): string {
  const manager = deactivateManager(reg);
  return manager ? `${DecidedBy.Admin}:${manager}` : DecidedBy.Admin;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
