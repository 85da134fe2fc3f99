/**
 * What the browser gets of a DeviceRegistration: the columns of the table, nothing else.
 * Shared by the server (which builds rows) and the UI (which filters them). Pure; no DOM,
 * no Node. Every string here except `name`'s shape is device-controlled: the UI renders it
 * as text only, and CSV export guards it (csv.ts).
 */
export const PHASES = ["Pending", "Approved", "Rejected", "Deactivated"] as const;
export type RowPhase = (typeof PHASES)[number];

export interface DeviceRow {
  name: string;
  phase: RowPhase;
  deviceId?: string;
  deviceUUID?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
  reason?: string;
  decidedBy?: string;
  deactivate: boolean;
  /** spec.approval: an admin's decision the operator may not have acted on yet. */
  approval?: "Approve" | "Deny";
  createdAt?: string;
  resourceVersion?: string;
}

/** The subset of a DeviceRegistration that rowOf reads (so the UI need not import @devreg/kube). */
export interface RegistrationLike {
  metadata: { name: string; creationTimestamp?: string; resourceVersion?: string };
  spec: {
    deviceId?: string;
    model?: string;
    serialNumber?: string;
    firmwareVersion?: string;
    deactivate?: boolean;
    approval?: "Approve" | "Deny";
  };
  status?: { phase?: string; deviceUUID?: string; reason?: string; decidedBy?: string };
}

export function rowOf(reg: RegistrationLike): DeviceRow {
  const phase = (PHASES as readonly string[]).includes(reg.status?.phase ?? "")
    ? (reg.status?.phase as RowPhase)
    : "Pending";
  return {
    name: reg.metadata.name,
    phase,
    deviceId: reg.spec.deviceId,
    deviceUUID: reg.status?.deviceUUID,
    model: reg.spec.model,
    serialNumber: reg.spec.serialNumber,
    firmwareVersion: reg.spec.firmwareVersion,
    reason: reg.status?.reason,
    decidedBy: reg.status?.decidedBy,
    deactivate: reg.spec.deactivate ?? false,
    approval: reg.spec.approval,
    createdAt: reg.metadata.creationTimestamp,
    resourceVersion: reg.metadata.resourceVersion,
  };
}

export interface RowFilter {
  phase?: RowPhase;
  model?: string;
  /** Case-insensitive substring of name, device id, UUID, serial, model, reason. */
  text?: string;
}

/** The rows a filter keeps, in the order given. */
export function filterRows(rows: readonly DeviceRow[], f: RowFilter): DeviceRow[] {
  const needle = f.text?.trim().toLowerCase() ?? "";
  return rows.filter((r) => {
    if (f.phase && r.phase !== f.phase) return false;
    if (f.model && r.model !== f.model) return false;
    if (!needle) return true;
    return [r.name, r.deviceId, r.deviceUUID, r.serialNumber, r.model, r.reason].some(
      (v) => v?.toLowerCase().includes(needle) === true,
    );
  });
}

/** The operator's reason for a registration held for an admin in manual mode. */
const AWAITING_APPROVAL = "AwaitingApproval";

/**
 * Can an admin approve or deny this row from the dashboard? A Pending registration awaiting
 * approval (manual mode) with no decision requested yet. Pure.
 */
export function awaitsAdmin(r: DeviceRow): boolean {
  return r.phase === "Pending" && r.reason === AWAITING_APPROVAL && r.approval === undefined && !r.deactivate;
}

/** Newest first, then by name: devices appear at the top as they join. */
export function compareRows(a: DeviceRow, b: DeviceRow): number {
  const ta = a.createdAt ?? "";
  const tb = b.createdAt ?? "";
  if (ta !== tb) return ta < tb ? 1 : -1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Counts per phase, for the table's summary line. */
export function phaseCounts(rows: Iterable<DeviceRow>): Record<RowPhase, number> {
  const out = { Pending: 0, Approved: 0, Rejected: 0, Deactivated: 0 };
  for (const r of rows) out[r.phase]++;
  return out;
}
