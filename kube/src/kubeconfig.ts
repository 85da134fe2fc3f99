import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeError } from "./errors.ts";
import { localKubeconfigPath } from "./local/paths.ts";

export interface KubeconfigSource {
  kc: KubeConfig;
  /** Where it came from, for messages: a path, or "in-cluster". */
  origin: string;
}

/**
 * Which cluster every devreg command talks to, first match wins:
 * 1. `explicitPath` (`--kubeconfig <path>`, one file); 2. `envKubeconfig`, the value of
 * $KUBECONFIG as the process read it (readEnv): a colon-separated list, the first existing file
 * is used; 3. the running local control plane (`devreg cluster up`); 4. in-cluster service
 * account; 5. ~/.kube/config. Reads no KUBECONFIG itself: only process entry points read it.
 */
export function resolveKubeConfig(explicitPath?: string, envKubeconfig?: string): KubeconfigSource {
  const kc = new KubeConfig();
  const fromFile = (path: string, origin: string): KubeconfigSource => {
    if (!existsSync(path)) throw new KubeError("E_KUBECONFIG", `kubeconfig ${path} does not exist`);
    try {
      kc.loadFromFile(path);
    } catch (e) {
      throw new KubeError("E_KUBECONFIG", `kubeconfig ${path} is not valid: ${(e as Error).message}`);
    }
    if (!kc.getCurrentCluster())
      throw new KubeError("E_KUBECONFIG", `kubeconfig ${path} has no current cluster`);
    return { kc, origin };
  };
  if (explicitPath) return fromFile(explicitPath, explicitPath);
  if (envKubeconfig) {
    const first = envKubeconfig.split(":").find((p) => p && existsSync(p));
    if (!first) throw new KubeError("E_KUBECONFIG", `KUBECONFIG=${envKubeconfig} names no existing file`);
    return fromFile(first, first);
  }
  const local = localKubeconfigPath();
  if (existsSync(local)) return fromFile(local, local);
  if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return { kc, origin: "in-cluster" };
  }
  const home = `${process.env.HOME ?? ""}/.kube/config`;
  if (existsSync(home)) return fromFile(home, home);
  throw new KubeError(
    "E_KUBECONFIG",
    "no cluster: pass --kubeconfig, set KUBECONFIG, or start the local control plane with `devreg cluster up`",
  );
}
