import { type ConfigMap, type Informer, type KubeRest, PAIRING_CONFIGMAP, isKubeError } from "@devreg/kube";
import type { Logger } from "pino";
import type { ObjectRef } from "./events.ts";
import { type PairingState, pairingPath, parsePairing } from "./pairing.ts";

export interface PairingControllerDeps {
  rest: KubeRest;
  namespace: string;
  informer: Informer<ConfigMap>;
  log: Logger;
  recordEvent: (ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string) => void;
  now?: () => Date;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Watches the pairing ConfigMap: says (log line, and as leader an Event on the ConfigMap) whenever
 * the pairing state changes or the ConfigMap is unusable, and as leader closes an expired window
 * itself by patching enabled to "false" (like Zigbee2MQTT's permit_join timer).
 */
export class PairingController {
  private last: { code: string; expiresAt?: number } | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly now: () => Date;

  constructor(private readonly d: PairingControllerDeps) {
    this.now = d.now ?? (() => new Date());
  }

  private get key(): string {
    return `${this.d.namespace}/${PAIRING_CONFIGMAP}`;
  }

  /** Pairing as of now, from the watched ConfigMap. */
  state(): PairingState {
    return parsePairing(this.d.informer.get(this.key), this.now());
  }

  startLeading(): void {
    this.leading = true;
    this.evaluate();
  }

  stopLeading(): void {
    this.leading = false;
    this.clearTimer();
  }

  /** Call on every informer event for the ConfigMap (and once after the first sync). */
  evaluate(): void {
    const cm = this.d.informer.get(this.key);
    const st = parsePairing(cm, this.now());
    const sig = { code: st.code, expiresAt: st.expiresAt?.getTime() };
    const changed = !this.last || this.last.code !== sig.code || this.last.expiresAt !== sig.expiresAt;
    if (changed) {
      // Expired -> Disabled is our own close patch landing: the Expired Event already said it.
      const ownClose = this.last?.code === "PairingWindowExpired" && st.code === "PairingDisabled";
      this.last = sig;
      const line = {
        namespace: this.d.namespace,
        configMap: PAIRING_CONFIGMAP,
        code: st.code,
        open: st.open,
      };
      if (st.code === "PairingConfigMissing" || st.code === "PairingConfigInvalid")
        this.d.log.warn(line, st.reason);
      else this.d.log.info(line, st.reason);
      if (this.leading && cm) {
        const type = st.code === "PairingConfigInvalid" ? "Warning" : "Normal";
        const reason =
          st.code === "PairingWindowOpen"
            ? "PairingWindowOpened"
            : st.code === "PairingDisabled"
              ? "PairingWindowClosed"
              : st.code;
        if (st.code !== "PairingWindowExpired" && !ownClose)
          this.d.recordEvent(refOf(cm, this.d.namespace), type, reason, st.reason);
      }
    }
    this.schedule(cm, st);
  }

  private schedule(cm: ConfigMap | undefined, st: PairingState): void {
    this.clearTimer();
    if (!this.leading || !cm) return;
    if (st.code === "PairingWindowExpired" && cm.data?.enabled === "true") {
      void this.closeExpired(cm);
      return;
    }
    if (st.open && st.expiresAt) {
      const ms = Math.min(MAX_TIMER_MS, Math.max(0, st.expiresAt.getTime() - this.now().getTime()) + 5);
      this.timer = setTimeout(() => this.evaluate(), ms);
      this.timer.unref?.();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The window's time is up: patch enabled "false" unless someone changed the ConfigMap meanwhile. */
  private async closeExpired(cm: ConfigMap): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const expiredAt = cm.data?.expiresAt ?? "";
    try {
      await this.d.rest.request("PATCH", pairingPath(this.d.namespace), {
        body: { metadata: { resourceVersion: cm.metadata.resourceVersion }, data: { enabled: "false" } },
        contentType: "application/merge-patch+json",
        query: { fieldManager: "devreg-operator" },
      });
      this.d.log.info(
        { namespace: this.d.namespace, expiresAt: expiredAt },
        "pairing window expired; closed it",
      );
      this.d.recordEvent(
        refOf(cm, this.d.namespace),
        "Normal",
        "PairingWindowExpired",
        `the pairing window expired at ${expiredAt}; the operator set enabled to "false"`,
      );
    } catch (err) {
      // 409/404: the ConfigMap changed under us; the informer brings the new version and we re-evaluate.
      if (!isKubeError(err, "E_KUBE_CONFLICT") && !isKubeError(err, "E_KUBE_NOT_FOUND")) {
        this.d.log.warn(
          { err: (err as Error).message },
          "could not close the expired pairing window; retrying",
        );
        if (this.leading) {
          this.timer = setTimeout(() => this.evaluate(), 1000);
          this.timer.unref?.();
        }
      }
    } finally {
      this.closing = false;
    }
  }
}

function refOf(cm: ConfigMap, namespace: string): ObjectRef {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: cm.metadata.name,
    namespace: cm.metadata.namespace ?? namespace,
    uid: cm.metadata.uid,
    resourceVersion: cm.metadata.resourceVersion,
  };
}
