import {
  type ConfigMap,
  type DeviceAllowance,
  type DeviceRegistration,
  Informer,
  configMapsPath,
  type KubeRest,
  PAIRING_CONFIGMAP,
  Registrations,
  allowancesPath,
  dropManagedFields,
  isTransient,
  keyOf,
} from "@devreg/kube";
import { type Lifecycle, type Logger, isRuntimeError, waitFor } from "@devreg/runtime";
import { AllowanceIndex } from "./allowance-index.ts";
import type { OperatorConfig } from "./config.ts";
import { compactManagedFields } from "./decide.ts";
import { OperatorError } from "./errors.ts";
import { KeyIndex } from "./key-owner.ts";

/**
 * The operator's watched state: registrations (with the index of who holds each public key),
 * the pairing ConfigMap, and the allowlist (indexed by public key). The indexes are updated
 * before any other listener of the same event runs.
 */
export class Caches {
  readonly regs: Registrations;
  readonly registrations: Informer<DeviceRegistration>;
  readonly pairingConfigMap: Informer<ConfigMap>;
  readonly allowances: Informer<DeviceAllowance>;
  readonly keyIndex = new KeyIndex();
  readonly allowanceIndex = new AllowanceIndex();
  /** A non-transient list error before the first sync: start-up fails with it. */
  private startupError: Error | undefined;

  constructor(api: KubeRest, cfg: OperatorConfig, log: Logger) {
    const ns = cfg.namespace;
    const resyncMs = cfg.resyncMs;
    this.regs = new Registrations(api, ns);
    this.registrations = new Informer(api, {
      path: this.regs.collectionPath(),
      resyncMs,
      transform: compactManagedFields,
    });
    this.pairingConfigMap = new Informer(api, {
      path: configMapsPath(ns),
      fieldSelector: `metadata.name=${PAIRING_CONFIGMAP}`,
      resyncMs,
    });
    this.allowances = new Informer(api, { path: allowancesPath(ns), resyncMs, transform: dropManagedFields });

    const index = (obj: DeviceRegistration) => this.keyIndex.set(keyOf(obj.metadata), obj);
    this.registrations.on("add", index);
    this.registrations.on("update", index);
    this.registrations.on("delete", (obj) => this.keyIndex.delete(keyOf(obj.metadata)));
    this.allowances.on("add", (a) => this.allowanceIndex.set(a));
    this.allowances.on("update", (a) => this.allowanceIndex.set(a));
    this.allowances.on("delete", (a) => this.allowanceIndex.delete(a));

    this.allowances.on("error", (err, retryInMs) =>
      log.warn(
        { err: err.message, retryInMs },
        "allowlist list/watch failed; no key counts as pre-registered until it lists",
      ),
    );
    for (const inf of [this.registrations, this.pairingConfigMap, this.allowances] as const) {
      inf.on("listenerError", (err, event) =>
        log.error({ err: err.message, event }, "an informer listener threw; the watch goes on"),
      );
    }
    for (const inf of [this.registrations, this.pairingConfigMap] as const) {
      inf.on("error", (err, retryInMs) => {
        log.warn({ err: err.message, retryInMs }, "list/watch failed; retrying");
        if (!inf.hasSynced && !isTransient(err)) this.startupError ??= err;
      });
    }
  }

  /** The allowlist is not required: until it lists, no key counts as pre-registered. */
  ready(): boolean {
    return this.registrations.hasSynced && this.pairingConfigMap.hasSynced;
  }

  start(lc: Lifecycle): void {
    const all = [this.registrations, this.pairingConfigMap, this.allowances];
    for (const inf of all) inf.start();
    lc.onStop("informers", () => Promise.all(all.map((inf) => inf.stop())), 30_000);
  }

  /** Resolves once ready(); throws the first non-transient list error, or E_START_TIMEOUT. */
  async synced(timeoutMs: number): Promise<void> {
    try {
      await waitFor(() => this.ready(), { timeoutMs, abort: () => this.startupError !== undefined });
    } catch (e) {
      if (!isRuntimeError(e, "E_TIMEOUT")) throw e;
    }
    if (this.ready()) return;
    throw (
      this.startupError ??
      new OperatorError("E_START_TIMEOUT", `caches did not sync in ${timeoutMs / 1000} s (see the log)`)
    );
  }
}
