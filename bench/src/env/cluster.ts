import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  clusterDown,
  clusterUp,
  ensureNamespace,
  installCrds,
  isKubeError,
  KubeRest,
  namespacePath,
  resolveKubeConfig,
} from "@devreg/kube";

/** The cluster a run talks to: a private one it started, or any cluster from a kubeconfig. */
export interface BenchCluster {
  kind: "private" | "external";
  kubeconfig: string;
  server: string;
  /** Known only for the private control plane. */
  etcdPid?: number;
  apiserverPid?: number;
  /** Admin client for set-up (namespaces, pairing), not for measured traffic. */
  rest: KubeRest;
  close(): Promise<void>;
}

export async function openCluster(opts: {
  /** One file (--kubeconfig), else $KUBECONFIG's list; neither: a private control plane. */
  kubeconfig?: string;
  envKubeconfig?: string;
  log: (l: string) => void;
}): Promise<BenchCluster> {
  if (opts.kubeconfig || opts.envKubeconfig) {
    // origin is the one file used: what the components are given.
    const { kc, origin } = resolveKubeConfig(opts.kubeconfig, opts.envKubeconfig);
    const rest = await KubeRest.fromKubeConfig(kc);
    opts.log(`using the cluster of ${origin} (${rest.server.origin})`);
    await installCrdsIfAllowed(rest, opts.log);
    return {
      kind: "external",
      kubeconfig: origin,
      server: rest.server.origin,
      rest,
      close: async () => rest.close(),
    };
  }
  const stateDir = mkdtempSync(join(tmpdir(), "devreg-bench-cp-"));
  const t0 = Date.now();
  const st = await clusterUp({ stateDir, log: (l) => opts.log(`control plane: ${l}`) });
  opts.log(`private control plane ready in ${Date.now() - t0} ms at ${st.server}`);
  try {
    const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(st.kubeconfig).kc);
    await installCrds(rest);
    return {
      kind: "private",
      kubeconfig: st.kubeconfig,
      server: st.server,
      etcdPid: st.etcdPid,
      apiserverPid: st.apiserverPid,
      rest,
      close: async () => {
        rest.close();
        await clusterDown({ stateDir });
      },
    };
  } catch (e) {
    await clusterDown({ stateDir });
    throw e;
  }
}

/** On a shared cluster the CRDs may be installed already by someone allowed to. */
async function installCrdsIfAllowed(rest: KubeRest, log: (l: string) => void): Promise<void> {
  try {
    await installCrds(rest);
  } catch (e) {
    if (!isKubeError(e, "E_KUBE_FORBIDDEN")) throw e;
    log("not allowed to install CRDs; assuming they are installed");
  }
}

/** Fresh namespaces for one run: one the operator watches, one for the floor (no operator). */
export async function benchNamespaces(
  rest: KubeRest,
): Promise<{ namespace: string; floorNamespace: string }> {
  const id = randomBytes(3).toString("hex");
  const namespace = `devreg-bench-${id}`;
  const floorNamespace = `devreg-bench-${id}-floor`;
  await ensureNamespace(rest, namespace);
  await ensureNamespace(rest, floorNamespace);
  return { namespace, floorNamespace };
}

/** Best effort: kube-apiserver alone has no namespace controller, so this only marks them. */
export async function deleteNamespaces(rest: KubeRest, names: string[]): Promise<void> {
  await Promise.all(names.map((n) => rest.request("DELETE", namespacePath(n)).catch(() => undefined)));
}
