import {
  type ConfigMap,
  type KubeRest,
  PAIRING_CONFIGMAP,
  type PairingMode,
  type PairingState,
  configMapsPath,
  isKubeError,
  pairingPath,
  parsePairing,
} from "@devreg/kube";
import { randomBytes } from "node:crypto";
import { OperatorError } from "./errors.ts";
import { compileSelector } from "./selector.ts";

// The ConfigMap's shape and its one parser live in @devreg/kube (the gateway reads it too).
export {
  type PairingCode,
  type PairingState,
  pairingPath,
  parsePairing,
  parseRfc3339,
} from "@devreg/kube";

export interface PairingReadout {
  state: PairingState;
  configMap?: ConfigMap;
}

/** Reads and interprets the pairing ConfigMap (a missing one is a closed window, not an error). */
export async function readPairing(
  rest: KubeRest,
  namespace: string,
  now = new Date(),
): Promise<PairingReadout> {
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
  /** auto (default): the window approves; manual: each registration waits for an admin. */
  mode?: PairingMode;
  /** The window's budget: it closes after this many approvals. Omitted = no budget. */
  maxDevices?: number;
  /** CEL over the request's metadata (selector.ts); a device it excludes is rejected SelectorMismatch. */
  selector?: string;
  now?: Date;
  /** Recorded in managedFields, so `kubectl get -o yaml` shows who flipped the switch. */
  fieldManager?: string;
}

/** A new window's id: sortable by time, unique enough to tell windows apart in the audit. */
export function newWindowId(now: Date): string {
  return `w-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/**
 * Opens or closes pairing: merge-patches the ConfigMap, creating it if missing. Opening starts a
 * new window (new windowId, approvalsUsed "0", the given budget, selector and mode; what is not
 * given is removed). Closing sets enabled "false" and removes expiresAt, keeping the last
 * window's settings and count for `devreg pairing status`.
 */
export async function setPairing(
  rest: KubeRest,
  namespace: string,
  opts: SetPairingOptions,
): Promise<PairingReadout> {
  const now = opts.now ?? new Date();
  if (opts.selector !== undefined) {
    const compiled = compileSelector(opts.selector);
    if (!compiled.ok) throw new OperatorError("E_PAIRING_CONFIG", `selector: ${compiled.error}`);
  }
  if (
    opts.maxDevices !== undefined &&
    !(Number.isInteger(opts.maxDevices) && opts.maxDevices > 0 && opts.maxDevices < 1e9)
  ) {
    throw new OperatorError(
      "E_PAIRING_CONFIG",
      `maxDevices must be a positive integer, not ${opts.maxDevices}`,
    );
  }
  const expiresAt =
    opts.enabled && opts.forSeconds !== undefined
      ? new Date(now.getTime() + opts.forSeconds * 1000).toISOString()
      : null;
  const query = { fieldManager: opts.fieldManager ?? "devreg" };
  const data: Record<string, string | null> = opts.enabled
    ? {
        enabled: "true",
        expiresAt,
        mode: opts.mode ?? "auto",
        windowId: newWindowId(now),
        approvalsUsed: "0",
        maxDevices: opts.maxDevices === undefined ? null : String(opts.maxDevices),
        selector: opts.selector ?? null,
      }
    : { enabled: "false", expiresAt: null };
  for (let attempt = 0; ; attempt++) {
    try {
      const cm = await rest.request<ConfigMap>("PATCH", pairingPath(namespace), {
        body: { data },
        contentType: "application/merge-patch+json",
        query,
      });
      return { state: parsePairing(cm, now), configMap: cm };
    } catch (e) {
      if (!isKubeError(e, "E_KUBE_NOT_FOUND") || attempt > 0) throw e;
    }
    try {
      const created: Record<string, string> = {};
      for (const [k, v] of Object.entries(data)) if (v !== null) created[k] = v;
      const cm = await rest.request<ConfigMap>("POST", configMapsPath(namespace), {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: PAIRING_CONFIGMAP, namespace },
          data: created,
        },
        query,
      });
      return { state: parsePairing(cm, now), configMap: cm };
    } catch (e) {
      // Someone created it between our PATCH and POST: patch again.
      if (!isKubeError(e, "E_KUBE_ALREADY_EXISTS")) throw e;
    }
  }
}
