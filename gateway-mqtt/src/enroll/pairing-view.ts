import {
  type ConfigMap,
  Informer,
  type KubeRest,
  PAIRING_CONFIGMAP,
  type PairingState,
  configMapsPath,
  dropManagedFields,
  parsePairing,
} from "@devreg/kube";

/** Why the gateway lets a request from a key with no registration reach the operator. */
export type Admission = "window" | "manual";

/**
 * The gateway's read-only view of pairing (operator/README.md "Who decides what"): ONE watch on
 * the one pairing ConfigMap (RBAC: get/list/watch on configmaps, resourceNames devreg-pairing).
 * The operator still decides every approval; this view only lets the gateway refuse, without an
 * apiserver write, a new key the operator would refuse anyway. It fails closed: before the first
 * list, and whenever the ConfigMap is missing or malformed, no new key is admitted.
 */
export class PairingView {
  readonly informer: Informer<ConfigMap>;
  private readonly key: string;

  constructor(rest: KubeRest, namespace: string) {
    this.key = `${namespace}/${PAIRING_CONFIGMAP}`;
    this.informer = new Informer<ConfigMap>(rest, {
      path: configMapsPath(namespace),
      fieldSelector: `metadata.name=${PAIRING_CONFIGMAP}`,
      resyncMs: 5 * 60_000,
      transform: dropManagedFields,
    });
  }

  /** Pairing as of `now`, or undefined while the gateway cannot tell (not listed yet). */
  state(now = new Date()): PairingState | undefined {
    if (!this.informer.hasSynced) return undefined;
    return parsePairing(this.informer.get(this.key), now);
  }

  /** Whether a key with no registration may be handed to the operator now (undefined: refuse). */
  admits(now = new Date()): Admission | undefined {
    const st = this.state(now);
    if (!st?.open) return undefined;
    return st.window?.mode === "manual" ? "manual" : "window";
  }
}
