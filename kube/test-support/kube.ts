import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { inject } from "vitest";
import { ensureNamespace } from "../src/install.ts";
import { resolveKubeConfig } from "../src/kubeconfig.ts";
import { KubeRest } from "../src/rest.ts";
// Brings global-setup.ts's `ProvidedContext` augmentation (inject("kubeconfig")) into type-checking.
import type {} from "./global-setup.ts";

/** The shared e2e control plane: its kubeconfig path and an admin REST client. */
export async function testKube(): Promise<{ kubeconfig: string; rest: KubeRest }> {
  const kubeconfig = inject("kubeconfig");
  const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(kubeconfig).kc);
  return { kubeconfig, rest };
}

/** A fresh namespace per test file, so files never see each other's objects. */
export async function freshNamespace(rest: KubeRest, prefix: string): Promise<string> {
  const ns = `${prefix}-${randomBytes(3).toString("hex")}`;
  await ensureNamespace(rest, ns);
  return ns;
}

export function randomPublicKeyB64(): string {
  return randomBytes(32).toString("base64");
}

/** A kubeconfig that authenticates with `token` against the same server/CA as `adminKubeconfig`. */
export function kubeconfigForToken(adminKubeconfig: string, token: string, outPath: string): string {
  const kc = resolveKubeConfig(adminKubeconfig).kc;
  const cluster = kc.getCurrentCluster()!;
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ${cluster.server}
    certificate-authority-data: ${cluster.caData ?? ""}
users:
- name: u
  user:
    token: ${token}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
`;
  writeFileSync(outPath, yaml, { mode: 0o600 });
  return outPath;
}

/** A real ServiceAccount token from the TokenRequest API. */
export async function serviceAccountToken(rest: KubeRest, namespace: string, name: string): Promise<string> {
  const tr = await rest.request<{ status: { token: string } }>(
    "POST",
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } } },
  );
  return tr.status.token;
}
