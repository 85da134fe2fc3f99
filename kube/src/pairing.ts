import { PAIRING_CONFIGMAP } from "./constants.ts";
import type { ConfigMap } from "./types.ts";

/**
 * The pairing ConfigMap `devreg-pairing` (operator/README.md "Pairing"), read by the operator
 * (which decides) and by the gateway (which only refuses, without a write, what the operator
 * would refuse anyway). One parser for both, so they can never disagree on what a field means:
 *
 *   data.enabled:       "true" | "false"                 (required)
 *   data.expiresAt:     RFC 3339 time                    (optional; the window closes then)
 *   data.mode:          "auto" | "manual"                (optional, default auto)
 *   data.windowId:      the window's id, for the audit   (written by `devreg pairing on`)
 *   data.maxDevices:    positive integer                 (optional; the window's budget)
 *   data.approvalsUsed: integer >= 0                     (written by the operator only)
 *   data.selector:      CEL expression over the request  (optional; the operator evaluates it)
 *
 * Anything else (missing ConfigMap, missing/odd `enabled`, an unparseable field) means CLOSED:
 * a typo must never open the door to every device in range.
 */

/** Why pairing is open or closed, as a stable CamelCase code (used in Events and logs). */
export type PairingCode =
  | "PairingWindowOpen"
  | "PairingDisabled"
  | "PairingWindowExpired"
  | "PairingBudgetSpent"
  | "PairingConfigMissing"
  | "PairingConfigInvalid";

/** auto: the window approves whoever asks (within budget and selector); manual: an admin decides each. */
export type PairingMode = "auto" | "manual";

export interface PairingWindow {
  id?: string;
  mode: PairingMode;
  maxDevices?: number;
  approvalsUsed: number;
  /** CEL source; compiled by the operator (operator/src/selector.ts). */
  selector?: string;
}

export interface PairingState {
  /** New registrations may be admitted (and, in auto mode, approved). */
  open: boolean;
  /** When an open window closes; also kept for an expired window. */
  expiresAt?: Date;
  code: PairingCode;
  /** One human sentence saying why. */
  reason: string;
  /** The window's settings, when the ConfigMap is well-formed. */
  window?: PairingWindow;
}

export const PAIRING_MODES: readonly PairingMode[] = ["auto", "manual"];

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
const COUNT = /^(0|[1-9]\d{0,8})$/;

/** Strict RFC 3339 (Date.parse alone accepts Feb 30 and many non-RFC forms). */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Pure: what a pairing ConfigMap (or its absence) means at `now`. */
export function parsePairing(cm: ConfigMap | undefined, now: Date): PairingState {
  if (!cm) {
    return { open: false, code: "PairingConfigMissing", reason: `ConfigMap ${PAIRING_CONFIGMAP} not found; pairing is off` };
  }
  const data = cm.data ?? {};
  const enabled = data.enabled;
  if (enabled === undefined) {
    return invalid(`data.enabled is missing (want "true" or "false")`);
  }
  if (enabled !== "true" && enabled !== "false") {
    return invalid(`data.enabled is ${JSON.stringify(enabled).slice(0, 40)} (want "true" or "false")`);
  }
  let expiresAt: Date | undefined;
  if (data.expiresAt !== undefined && data.expiresAt !== "") {
    expiresAt = parseRfc3339(data.expiresAt);
    if (!expiresAt) return invalid(`data.expiresAt ${JSON.stringify(data.expiresAt).slice(0, 60)} is not an RFC 3339 time`);
  }
  const mode = data.mode === undefined || data.mode === "" ? "auto" : data.mode;
  if (mode !== "auto" && mode !== "manual") {
    return invalid(`data.mode is ${JSON.stringify(mode).slice(0, 40)} (want "auto" or "manual")`);
  }
  const count = (field: "maxDevices" | "approvalsUsed"): number | undefined | null => {
    const v = data[field];
    if (v === undefined || v === "") return undefined;
    return COUNT.test(v) ? Number(v) : null;
  };
  const maxDevices = count("maxDevices");
  if (maxDevices === null || maxDevices === 0) {
    return invalid(`data.maxDevices ${JSON.stringify(data.maxDevices).slice(0, 40)} is not a positive integer`);
  }
  const approvalsUsed = count("approvalsUsed");
  if (approvalsUsed === null) {
    return invalid(`data.approvalsUsed ${JSON.stringify(data.approvalsUsed).slice(0, 40)} is not an integer >= 0`);
  }
  const window: PairingWindow = { mode, approvalsUsed: approvalsUsed ?? 0 };
  if (data.windowId) window.id = data.windowId;
  if (maxDevices !== undefined) window.maxDevices = maxDevices;
  if (data.selector !== undefined && data.selector.trim() !== "") window.selector = data.selector;
  const spent = maxDevices !== undefined && window.approvalsUsed >= maxDevices;

  if (spent) {
    return {
      open: false,
      expiresAt,
      window,
      code: "PairingBudgetSpent",
      reason: `the pairing window's budget of ${maxDevices} approvals is spent`,
    };
  }
  if (enabled === "false") {
    return { open: false, expiresAt, window, code: "PairingDisabled", reason: "pairing is disabled" };
  }
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    return {
      open: false,
      expiresAt,
      window,
      code: "PairingWindowExpired",
      reason: `the pairing window expired at ${expiresAt.toISOString()}`,
    };
  }
  const until = expiresAt ? `until ${expiresAt.toISOString()}` : "(no expiry)";
  const budget = maxDevices !== undefined ? `, ${maxDevices - window.approvalsUsed} of ${maxDevices} approvals left` : "";
  return {
    open: true,
    expiresAt,
    window,
    code: "PairingWindowOpen",
    reason:
      mode === "manual"
        ? `pairing is open in manual mode ${until}: an admin approves each device`
        : `the pairing window is open ${until}${budget}`,
  };
}

function invalid(why: string): PairingState {
  return { open: false, code: "PairingConfigInvalid", reason: `ConfigMap ${PAIRING_CONFIGMAP} is malformed: ${why}; pairing is off` };
}
