import {
  type ApprovalSource,
  type DeviceRegistration,
  type DeviceRegistrationStatus,
  type Phase,
  isDecided,
  rfc3339,
  setCondition,
} from "@devreg/kube";
import type { PairingState } from "./pairing.ts";
import { type Selector, selectorInput } from "./selector.ts";
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
  /** The window's selector excluded the device (sticky). */
  SelectorMismatch: "SelectorMismatch",
  /** Approved because an admin pre-registered its key (DeviceAllowance). */
  PreRegistered: "PreRegistered",
  /** Manual mode: Pending until an admin approves or denies. */
  AwaitingApproval: "AwaitingApproval",
  ApprovedByAdmin: "ApprovedByAdmin",
  DeniedByAdmin: "DeniedByAdmin",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** status.decidedBy values; admin decisions add the field manager: "admin:kubectl-patch". */
export const DecidedBy = {
  PairingWindow: "pairing-window",
  SpecValidation: "spec-validation",
  Admin: "admin",
  Allowlist: "allowlist",
} as const;

/**
 * Rejections that waiting may fix (SPEC PROTO-26): not sticky. The operator deletes such a
 * registration when pairing opens, or after its TTL (cleanup.ts), so the device's next request
 * starts afresh. Every other rejection stays until an admin or the rejected TTL removes it.
 */
export const RETRYABLE_REJECTIONS: ReadonlySet<string> = new Set([Reason.PairingDisabled]);

export interface DecideContext {
  /** Mints a UUID v4; only called when approving a registration that has none. */
  newUUID: () => string;
  deviceIdOf: DeviceIdOf;
  /** Name of the registration that owns this public key (key-owner.ts); undefined when alone. */
  keyOwner?: string;
  /** The open window's compiled selector, when it has one. */
  selector?: Selector;
  /** Name of a DeviceAllowance for this public key, when an admin pre-registered it. */
  allowance?: string;
}

/** An approval by a window with a budget: the caller must win a slot (window-budget.ts) before writing. */
export interface BudgetSlot {
  windowId: string;
  maxDevices: number;
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
  | { action: "update"; status: DeviceRegistrationStatus; transition?: Transition; slot?: BudgetSlot };

const MAX_MESSAGE = 1024;

/** True when nothing is left to do: a decided phase for the current generation (or deleting). */
export function isUpToDate(reg: DeviceRegistration): boolean {
  if (reg.metadata.deletionTimestamp) return true;
  const st = reg.status;
  const current = st?.observedGeneration === (reg.metadata.generation ?? 0);
  return current && (isDecided(st?.phase) || awaitingAdmin(reg));
}

function awaitingAdmin(reg: DeviceRegistration): boolean {
  return reg.status?.phase === "Pending" && reg.status.reason === Reason.AwaitingApproval;
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
 *  - undecided (or Rejected/PairingDisabled), spec.approval Approve|Deny
 *                                                      -> Approved/ApprovedByAdmin | Rejected/DeniedByAdmin
 *  - undecided, key pre-registered (DeviceAllowance)   -> Approved/PreRegistered, even with pairing closed
 *  - undecided, pairing open in manual mode            -> Pending/AwaitingApproval
 *  - undecided, pairing open, selector excludes it     -> Rejected/SelectorMismatch
 *  - undecided, pairing open                           -> Approved, UUID (existing one, or new); with a
 *                                                         budget only once the caller won a slot
 *  - undecided, pairing closed (any reason)            -> Rejected/PairingDisabled (retryable)
 */
export function decide(
  reg: DeviceRegistration,
  pairing: PairingState,
  now: Date,
  ctx: DecideContext,
): Decision {
  if (reg.metadata.deletionTimestamp) return { action: "skip", why: "being deleted" };
  const gen = reg.metadata.generation ?? 0;
  const st = reg.status ?? {};
  const decided = isDecided(st.phase);
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

  const approval = reg.spec?.approval;
  const adminMayDecide = !decided || (st.phase === "Rejected" && RETRYABLE_REJECTIONS.has(st.reason ?? ""));
  if ((approval === "Approve" || approval === "Deny") && adminMayDecide && st.observedGeneration !== gen) {
    const manager = fieldManager(reg, "f:approval");
    const by = manager ? `${DecidedBy.Admin}:${manager}` : DecidedBy.Admin;
    if (approval === "Deny") {
      return transition(reg, gen, now, {
        phase: "Rejected",
        reason: Reason.DeniedByAdmin,
        message: `denied by ${by}`,
        decidedBy: by,
        eventType: "Warning",
        eventReason: "Rejected",
      });
    }
    const check = validateSpec(reg, ctx.deviceIdOf);
    if (check.ok && (ctx.keyOwner === undefined || ctx.keyOwner === reg.metadata.name)) {
      return approve(
        reg,
        gen,
        now,
        ctx,
        Reason.ApprovedByAdmin,
        (uuid) => `approved by ${by} with UUID ${uuid}`,
        by,
        {
          kind: "Admin",
          ...(manager ? { admin: manager } : {}),
        },
      );
    }
  }

  // A decision is sticky: later pairing flips or spec edits never change it silently.
  if (decided) return bump(reg, gen, now);
  if (awaitingAdmin(reg) && st.observedGeneration === gen)
    return { action: "skip", why: "awaiting an admin" };

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
  if (ctx.allowance !== undefined) {
    const allowance = ctx.allowance;
    return approve(
      reg,
      gen,
      now,
      ctx,
      Reason.PreRegistered,
      (uuid) => `approved with UUID ${uuid}: its key is pre-registered by DeviceAllowance ${allowance}`,
      `${DecidedBy.Allowlist}:${allowance}`,
      { kind: "Allowlist", allowance },
    );
  }
  const win = pairing.window;
  const windowBy = win?.id ? `${DecidedBy.PairingWindow}:${win.id}` : DecidedBy.PairingWindow;
  if (pairing.open && win?.mode === "manual") {
    if (awaitingAdmin(reg) && st.observedGeneration === gen)
      return { action: "skip", why: "awaiting an admin" };
    const message = `pending: pairing is in manual mode; approve with \`devreg devices approve ${reg.metadata.name}\``;
    return {
      action: "update",
      status: {
        phase: "Pending",
        reason: Reason.AwaitingApproval,
        message,
        observedGeneration: gen,
        conditions: setCondition(
          st.conditions,
          {
            type: CONDITION_APPROVED,
            status: "Unknown",
            reason: Reason.AwaitingApproval,
            message,
            observedGeneration: gen,
          },
          now,
        ),
      },
    };
  }
  if (pairing.open) {
    if (ctx.selector) {
      const sel = ctx.selector(selectorInput(reg.spec));
      if (!sel.matched) {
        return transition(reg, gen, now, {
          phase: "Rejected",
          reason: Reason.SelectorMismatch,
          message: `rejected: the pairing window ${win?.id ?? ""} admits only devices matching ${JSON.stringify(win?.selector ?? "")}${sel.error ? ` (${sel.error})` : ""}`,
          decidedBy: windowBy,
          eventType: "Warning",
          eventReason: "Rejected",
        });
      }
    }
    const source: ApprovalSource = { kind: "PairingWindow" };
    if (win?.id) source.windowId = win.id;
    if (win?.maxDevices !== undefined) source.maxDevices = win.maxDevices;
    if (win?.selector !== undefined) source.selector = win.selector;
    if (pairing.expiresAt) source.expiresAt = rfc3339(pairing.expiresAt);
    const d = approve(
      reg,
      gen,
      now,
      ctx,
      Reason.PairingWindowOpen,
      (uuid) => `approved with UUID ${uuid}: ${pairing.reason}`,
      windowBy,
      source,
    );
    if (d.action === "update" && win?.maxDevices !== undefined) {
      d.slot = { windowId: win.id ?? "", maxDevices: win.maxDevices };
    }
    return d;
  }
  return transition(reg, gen, now, {
    phase: "Rejected",
    reason: Reason.PairingDisabled,
    message: `rejected: ${pairing.reason}. Not sticky: the operator deletes this registration when a window opens (or after its TTL), and the device's next request starts afresh`,
    decidedBy: windowBy,
    eventType: "Warning",
    eventReason: "Rejected",
  });
}

/** Approved, with the registration's UUID (or a fresh one) and what allowed it (audit). */
function approve(
  reg: DeviceRegistration,
  gen: number,
  now: Date,
  ctx: DecideContext,
  reason: Reason,
  message: (uuid: string) => string,
  decidedBy: string,
  approvedBy: ApprovalSource,
): Decision {
  const uuid = reg.status?.deviceUUID ?? ctx.newUUID();
  const t: Transition = {
    phase: "Approved",
    reason,
    message: message(uuid),
    decidedBy,
    eventType: "Normal",
    eventReason: "Approved",
  };
  return transition(reg, gen, now, t, uuid, approvedBy);
}

function transition(
  reg: DeviceRegistration,
  gen: number,
  now: Date,
  t: Transition,
  uuid?: string,
  approvedBy?: ApprovalSource,
): Decision {
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
  if (approvedBy) status.approvedBy = approvedBy;
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
  return fieldManager(reg, "f:deactivate");
}

/** The field manager that last set spec.<field> ("f:deactivate", "f:approval"). */
function fieldManager(
  reg: DeviceRegistration,
  field: (typeof ADMIN_FIELDS)[number],
): string | undefined {
  const entries = (reg.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? [];
  let best: ManagedFieldsEntry | undefined;
  for (const e of entries) {
    if (e.subresource || !e.manager || !e.fieldsV1?.["f:spec"] || !(field in e.fieldsV1["f:spec"])) continue;
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
    if (e.subresource || !e.manager || !spec) continue;
    const owned = ADMIN_FIELDS.filter((f) => f in spec);
    if (owned.length === 0) continue;
    const fields: Record<string, unknown> = {};
    for (const f of owned) fields[f] = {};
    kept.push({ manager: e.manager, operation: e.operation, time: e.time, fieldsV1: { "f:spec": fields } });
  }
  if (kept.length > 0) meta.managedFields = kept;
  else delete meta.managedFields;
  return reg;
}

/** The spec fields whose writer is an admin decision (decidedBy names them). */
const ADMIN_FIELDS = ["f:deactivate", "f:approval"] as const;

function adminDecidedBy(reg: DeviceRegistration): string {
  const manager = deactivateManager(reg);
  return manager ? `${DecidedBy.Admin}:${manager}` : DecidedBy.Admin;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
