import { type DeviceRegistration, KubeError, type KubeRest, Registrations, eventsPath, isKubeError } from "@devreg/kube";
import { isOperatorError, setPairing } from "@devreg/operator";
import { parseDuration } from "@devreg/runtime";
import { DashboardError } from "./errors.ts";
import { pairingView } from "./streams.ts";
import type { PairingRequest, PairingView } from "./shared/stream.ts";

/**
 * The admin actions, each one Kubernetes request made with the signed-in user's own
 * credential (`rest`): the API server's RBAC and admission policy decide, and a 403 goes
 * back to the page as it is. Field manager "devreg-dashboard" lands in managedFields, so
 * the operator's status.decidedBy names the dashboard.
 */
const FIELD_MANAGER = "devreg-dashboard";

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new DashboardError("E_BAD_REQUEST", "not a registration name");
  return name;
}

interface KubeEventView {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  source?: string;
}

export interface DeviceDetail {
  registration: DeviceRegistration;
  /** null when the user may not read Events (the reason is in eventsError). */
  events: KubeEventView[] | null;
  eventsError?: string;
}

export async function deviceDetail(rest: KubeRest, namespace: string, name: string): Promise<DeviceDetail> {
  const regs = new Registrations(rest, namespace);
  const registration = await regs.get(checkName(name));
  delete (registration.metadata as { managedFields?: unknown }).managedFields;
  try {
    const list = await rest.request<{
      items: Array<{
        type?: string;
        reason?: string;
        message?: string;
        count?: number;
        lastTimestamp?: string;
        eventTime?: string;
        metadata?: { creationTimestamp?: string };
        source?: { component?: string };
        reportingComponent?: string;
      }>;
    }>("GET", eventsPath(namespace), {
      query: { fieldSelector: `involvedObject.name=${name}`, limit: 100 },
    });
    const events = list.items.map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: e.count,
      lastTimestamp: e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp,
      source: e.source?.component ?? e.reportingComponent,
    }));
    events.sort((a, b) => ((a.lastTimestamp ?? "") < (b.lastTimestamp ?? "") ? -1 : 1));
    return { registration, events };
  } catch (e) {
    if (isKubeError(e, "E_KUBE_FORBIDDEN")) return { registration, events: null, eventsError: (e as Error).message };
    throw e;
  }
}

/** The spec field each device action sets, as `devreg devices <verb>` does (cli/src/commands/devices.ts). */
const DEVICE_ACTIONS = {
  deactivate: { deactivate: true },
  reactivate: { deactivate: false },
  approve: { approval: "Approve" },
  deny: { approval: "Deny" },
} as const;
export type DeviceAction = keyof typeof DEVICE_ACTIONS;

export function isDeviceAction(verb: string): verb is DeviceAction {
  return Object.hasOwn(DEVICE_ACTIONS, verb);
}

/**
 * Sets the action's spec field with a merge patch. The operator acts on it and records the
 * field manager in status.decidedBy; deploy/policy's admission policy lets it through only
 * for holders of the custom verb (`deactivate`, `approve`).
 */
export function setDeviceSpec(rest: KubeRest, namespace: string, name: string, action: DeviceAction): Promise<DeviceRegistration> {
  return new Registrations(rest, namespace).patch(
    checkName(name),
    { spec: DEVICE_ACTIONS[action] },
    { fieldManager: FIELD_MANAGER },
  );
}

export async function deleteDevice(rest: KubeRest, namespace: string, name: string): Promise<void> {
  await new Registrations(rest, namespace).delete(checkName(name));
}

/** What each action needs in deploy/rbac, for the message a refused user reads. */
const NEEDS: Record<DeviceAction | "delete" | "pairing", string> = {
  approve: "the verbs patch and approve on deviceregistrations (Role devreg-admin)",
  deny: "the verbs patch and approve on deviceregistrations (Role devreg-admin)",
  deactivate: "the verbs patch and deactivate on deviceregistrations (Role devreg-admin)",
  reactivate: "the verbs patch and deactivate on deviceregistrations (Role devreg-admin)",
  delete: "the verb delete on deviceregistrations (Role devreg-admin)",
  pairing: "patch on ConfigMap devreg-pairing (Role devreg-admin)",
};

/**
 * A 403 from the API server (RBAC or the admission policy), told so that a person can act on
 * it: who was refused, what for, what it needs, then the API server's own words. Anything
 * else passes through unchanged. Pure.
 */
export function explainForbidden(e: unknown, user: string, action: DeviceAction | "delete" | "pairing", target: string): unknown {
  if (!isKubeError(e, "E_KUBE_FORBIDDEN")) return e;
  // KubeError's message starts with the request line ("PATCH /apis/…: 403 "): keep the server's own words.
  const said = e.message.replace(/^[A-Z]+ \S+: 403 /, "");
  return new KubeError(
    "E_KUBE_FORBIDDEN",
    `Not allowed: ${user} may not ${action === "pairing" ? "change" : action} ${target}. Kubernetes refused the request; it needs ${NEEDS[action]}. The API server said: ${said}`,
    403,
  );
}

/** The CLI's rule (`devreg pairing on --manual`): a budget and a selector belong to auto windows. */
const MANUAL_EXCLUSIVE = "manual mode: an admin decides each device; a device budget and a selector apply to auto windows";

/** Parses a pairing request body. Pure. */
export function parsePairingChange(body: unknown): PairingRequest {
  const b = body as { [K in keyof PairingRequest]?: unknown } | null;
  if (!b || typeof b.enabled !== "boolean") throw new DashboardError("E_BAD_REQUEST", "enabled must be true or false");
  if (b.duration !== undefined && typeof b.duration !== "string") throw new DashboardError("E_BAD_REQUEST", "duration must be text like 10m");
  const out: PairingRequest = { enabled: b.enabled, duration: b.duration };
  if (!b.enabled) return { enabled: false };
  if (b.mode !== undefined && b.mode !== "auto" && b.mode !== "manual") throw new DashboardError("E_BAD_REQUEST", "mode must be auto or manual");
  if (b.maxDevices !== undefined && !(typeof b.maxDevices === "number" && Number.isInteger(b.maxDevices) && b.maxDevices > 0 && b.maxDevices < 1e9)) {
    throw new DashboardError("E_BAD_REQUEST", "device budget: want a positive integer");
  }
  if (b.selector !== undefined && typeof b.selector !== "string") throw new DashboardError("E_BAD_REQUEST", "selector must be text (CEL)");
  if (b.mode !== undefined) out.mode = b.mode;
  if (b.maxDevices !== undefined) out.maxDevices = b.maxDevices;
  if (b.selector !== undefined && b.selector.trim() !== "") out.selector = b.selector;
  if (out.mode === "manual" && (out.maxDevices !== undefined || out.selector !== undefined)) {
    throw new DashboardError("E_BAD_REQUEST", MANUAL_EXCLUSIVE);
  }
  return out;
}

/** Opens or closes pairing through the operator's setPairing, exactly as `devreg pairing on|off` does. */
export async function changePairing(rest: KubeRest, namespace: string, change: PairingRequest): Promise<PairingView> {
  let forSeconds: number | undefined;
  if (change.enabled && change.duration !== undefined && change.duration.trim() !== "") {
    let ms: number;
    try {
      ms = parseDuration(change.duration);
    } catch (e) {
      throw new DashboardError("E_BAD_REQUEST", `duration: ${(e as Error).message}`);
    }
    if (ms < 1000) throw new DashboardError("E_BAD_REQUEST", "duration: the window must stay open at least 1s");
    forSeconds = ms / 1000;
  }
  try {
    const r = change.enabled
      ? await setPairing(rest, namespace, {
          enabled: true,
          forSeconds,
          mode: change.mode ?? "auto",
          maxDevices: change.maxDevices,
          selector: change.selector,
          fieldManager: FIELD_MANAGER,
        })
      : await setPairing(rest, namespace, { enabled: false, fieldManager: FIELD_MANAGER });
    return pairingView(r.configMap, new Date());
  } catch (e) {
    // setPairing checks the selector (CEL) and the budget before writing anything.
    if (isOperatorError(e, "E_PAIRING_CONFIG")) throw new DashboardError("E_BAD_REQUEST", e.message);
    throw e;
  }
}
