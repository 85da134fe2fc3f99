import { DEVREG_API_PATH, KubeRest, isKubeError, resolveKubeConfig } from "@devreg/kube";
import type { Lifecycle, Logger } from "@devreg/runtime";
import type { OperatorConfig } from "./config.ts";
import { OperatorError } from "./errors.ts";

export interface KubeClients {
  /** Decisions, informers, the lease: everything but Events. */
  readonly api: KubeRest;
  /** Events only. */
  readonly events: KubeRest;
}

/**
 * The operator's two apiserver clients, with separate connection pools: Events can never hold a
 * socket a status write is waiting for. Closed last on stop. Refuses to start (E_CRD_MISSING)
 * when the DeviceRegistration CRD is not installed.
 */
export async function connectClients(cfg: OperatorConfig, log: Logger, lc: Lifecycle): Promise<KubeClients> {
  const { kc, origin } = resolveKubeConfig(cfg.kubeconfig, cfg.envKubeconfig);
  const api = await KubeRest.fromKubeConfig(kc, { maxSockets: cfg.concurrency + 4 });
  lc.onStop("kube client", () => api.close());
  const events = await KubeRest.fromKubeConfig(kc, { maxSockets: cfg.eventConcurrency });
  lc.onStop("kube client for Events", () => events.close());
  log.info(
    { kubeconfig: origin, server: api.server.origin, namespace: cfg.namespace, concurrency: cfg.concurrency },
    "starting",
  );
  await requireCrd(api);
  return { api, events };
}

async function requireCrd(api: KubeRest): Promise<void> {
  try {
    await api.request("GET", DEVREG_API_PATH, { timeoutMs: 10_000 });
  } catch (e) {
    if (!isKubeError(e, "E_KUBE_NOT_FOUND")) throw e;
    throw new OperatorError(
      "E_CRD_MISSING",
      `the DeviceRegistration CRD is not installed on ${api.server.origin}: kubectl apply -f crds/`,
    );
  }
}
