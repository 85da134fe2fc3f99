import { type DeviceRegistration, type KubeRest, Registrations, isKubeError } from "@devreg/kube";
import { parseDuration, setPairing } from "@devreg/operator";
import { DashboardError } from "./errors.ts";
import { pairingView } from "./streams.ts";
import type { PairingView } from "./shared/stream.ts";

/**
 * The admin actions, each one Kubernetes request made with the signed-in user's own
 * credential (`rest`): the API server's RBAC and admission policy decide, and a 403 goes
 * back to the page as it is. Field manager "devreg-dashboard" lands in managedFields, so
 * the operator's status.decidedBy names the dashboard.
 */
export const FIELD_MANAGER = "devreg-dashboard";

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function checkName(name: string): string {
  if (!NAME.test(name)) throw new DashboardError("E_BAD_REQUEST", "not a registration name");
  return name;
}

export interface KubeEventView {
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
    }>("GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
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

/** Deactivate (true) or reactivate (false): spec.deactivate, as `devreg devices deactivate` does. */
export function setDeactivate(rest: KubeRest, namespace: string, name: string, deactivate: boolean): Promise<DeviceRegistration> {
  return rest.request<DeviceRegistration>("PATCH", new Registrations(rest, namespace).itemPath(checkName(name)), {
    body: { spec: { deactivate } },
    contentType: "application/merge-patch+json",
    query: { fieldManager: FIELD_MANAGER },
  });
}

export async function deleteDevice(rest: KubeRest, namespace: string, name: string): Promise<void> {
  await new Registrations(rest, namespace).delete(checkName(name));
}

export interface PairingChange {
  enabled: boolean;
  /** e.g. "10m"; absent: open until closed. */
  duration?: string;
}

/** Parses a pairing request body. Pure. */
export function parsePairingChange(body: unknown): PairingChange {
  const b = body as { enabled?: unknown; duration?: unknown } | null;
  if (!b || typeof b.enabled !== "boolean") throw new DashboardError("E_BAD_REQUEST", "enabled must be true or false");
  if (b.duration !== undefined && typeof b.duration !== "string") throw new DashboardError("E_BAD_REQUEST", "duration must be text like 10m");
  return { enabled: b.enabled, duration: b.duration };
}

export async function changePairing(rest: KubeRest, namespace: string, change: PairingChange): Promise<PairingView> {
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
  const r = await setPairing(rest, namespace, { enabled: change.enabled, forSeconds, fieldManager: FIELD_MANAGER });
  return pairingView(r.configMap, new Date());
}
