import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { clusterDown, clusterUp } from "../src/local/controlplane.ts";
import { installCrds } from "../src/install.ts";
import { resolveKubeConfig } from "../src/kubeconfig.ts";
import { KubeRest } from "../src/rest.ts";

/**
 * Starts ONE real control plane (etcd + kube-apiserver with RBAC) for the whole e2e run and
 * installs the CRDs. Set DEVREG_TEST_KUBECONFIG to run the suite against another cluster.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DEVREG_TEST_KUBECONFIG;
  let stateDir: string | undefined;
  let kubeconfig: string;
  if (external) {
    kubeconfig = external;
  } else {
    stateDir = mkdtempSync(join(tmpdir(), "devreg-e2e-"));
    const t0 = Date.now();
    const st = await clusterUp({ stateDir, log: (l) => process.stderr.write(`[e2e control plane] ${l}\n`) });
    process.stderr.write(`[e2e control plane] ready in ${Date.now() - t0} ms at ${st.server}\n`);
    kubeconfig = st.kubeconfig;
  }
  const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(kubeconfig).kc);
  await installCrds(rest);
  rest.close();
  project.provide("kubeconfig", kubeconfig);
  return async () => {
    if (stateDir) await clusterDown({ stateDir });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
  }
}
