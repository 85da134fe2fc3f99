import { type ConfigMap, type KubeRest, PAIRING_CONFIGMAP, isKubeError } from "@devreg/kube";

/**
 * Pairing mode is ConfigMap `devreg-pairing` in the operator's namespace (operator/README.md):
 *   data.enabled:   "true" | "false"          (required)
 *   data.expiresAt: RFC 3339 timestamp        (optional; the window closes then)
 * Anything else (missing ConfigMap, missing/odd `enabled`, unparseable `expiresAt`) means
 * CLOSED: a typo must never open the door to every device in range.
 */

/** Why pairing is open or closed, as a stable CamelCase code (used in Events and logs). */
export type PairingCode =
  | "PairingWindowOpen"
  | "PairingDisabled"
  | "PairingWindowExpired"
  | "PairingConfigMissing"
  | "PairingConfigInvalid";

export interface PairingState {
  open: boolean;
  /** When an open window closes; also kept for an expired window. */
  expiresAt?: Date;
  code: PairingCode;
  /** One human sentence saying why. */
  reason: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

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
  if (enabled === "false") {
    return { open: false, expiresAt, code: "PairingDisabled", reason: "pairing is disabled" };
  }
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    return {
      open: false,
      expiresAt,
      code: "PairingWindowExpired",
      reason: `the pairing window expired at ${expiresAt.toISOString()}`,
    };
  }
  return {
    open: true,
    expiresAt,
    code: "PairingWindowOpen",
    reason: expiresAt ? `the pairing window is open until ${expiresAt.toISOString()}` : "the pairing window is open (no expiry)",
  };
}

function invalid(why: string): PairingState {
  return { open: false, code: "PairingConfigInvalid", reason: `ConfigMap ${PAIRING_CONFIGMAP} is malformed: ${why}; pairing is off` };
}

export function pairingPath(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${PAIRING_CONFIGMAP}`;
}

export interface PairingReadout {
  state: PairingState;
  configMap?: ConfigMap;
}

/** Reads and interprets the pairing ConfigMap (a missing one is a closed window, not an error). */
export async function readPairing(rest: KubeRest, namespace: string, now = new Date()): Promise<PairingReadout> {
  let configMap: ConfigMap | undefined;
  try {
    configMap = await rest.request<ConfigMap>("GET", pairingPath(namespace));
  } catch (e) {
    if (!isKubeError(e, "E_KUBE_NOT_FOUND")) throw e;
  }
  return { state: parsePairing(configMap, now), configMap };
}

export interface SetPairingOptions {
  enabled: boolean;
  /** Window length; omitted = no expiry. Ignored when disabling. */
  forSeconds?: number;
  now?: Date;
  /** Recorded in managedFields, so `kubectl get -o yaml` shows who flipped the switch. */
  fieldManager?: string;
}

/**
 * Opens or closes pairing: merge-patches the ConfigMap, creating it if missing. Closing
 * removes expiresAt; opening without `forSeconds` also removes it (open until closed).
 */
export async function setPairing(rest: KubeRest, namespace: string, opts: SetPairingOptions): Promise<PairingReadout> {
  const now = opts.now ?? new Date();
  const expiresAt =
    opts.enabled && opts.forSeconds !== undefined ? new Date(now.getTime() + opts.forSeconds * 1000).toISOString() : null;
  const query = { fieldManager: opts.fieldManager ?? "devreg" };
  const patch = { data: { enabled: String(opts.enabled), expiresAt } };
  for (let attempt = 0; ; attempt++) {
    try {
      const cm = await rest.request<ConfigMap>("PATCH", pairingPath(namespace), {
        body: patch,
        contentType: "application/merge-patch+json",
        query,
      });
      return { state: parsePairing(cm, now), configMap: cm };
    } catch (e) {
      if (!isKubeError(e, "E_KUBE_NOT_FOUND") || attempt > 0) throw e;
    }
    try {
      const data: Record<string, string> = { enabled: String(opts.enabled) };
      if (expiresAt) data.expiresAt = expiresAt;
      const cm = await rest.request<ConfigMap>("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`, {
        body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: PAIRING_CONFIGMAP, namespace }, data },
        query,
      });
      return { state: parsePairing(cm, now), configMap: cm };
    } catch (e) {
      // Someone created it between our PATCH and POST: patch again.
      if (!isKubeError(e, "E_KUBE_ALREADY_EXISTS")) throw e;
    }
  }
}
