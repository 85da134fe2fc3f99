import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAll as loadAllYaml } from "js-yaml";
import type { KubeConfig } from "@kubernetes/client-node";
import { namespacePath, serviceAccountTokenPath } from "../paths.ts";
import type { KubeRest } from "../rest.ts";

const DEPLOY_DIR = resolve(fileURLToPath(new URL("../../../deploy", import.meta.url)));
/** What local mode applies from deploy/: identities and their RBAC, and the admission policy. */
export const LOCAL_DEPLOY_DIRS = [join(DEPLOY_DIR, "rbac"), join(DEPLOY_DIR, "policy")];

/** The components that run with a ServiceAccount of their own: `devreg-<component>` in deploy/rbac. */
export type Component = "gateway" | "operator";

/** 30 days: a local control plane sets no maximum; a component running longer restarts for a new token. */
const TOKEN_SECONDS = 30 * 24 * 3600;
const FIELD_MANAGER = "devreg-local";
/** deploy/ labels its namespace so; deploy/policy's binding selects namespaces by it. */
export const PART_OF_LABEL = "app.kubernetes.io/part-of";

interface RbacDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

const COLLECTIONS: Record<string, string> = {
  ServiceAccount: "/api/v1/namespaces/{ns}/serviceaccounts",
  Role: "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
  RoleBinding: "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
  ValidatingAdmissionPolicy: "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
  ValidatingAdmissionPolicyBinding: "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
};
const CLUSTER_SCOPED = new Set(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);

/**
 * deploy/rbac's and deploy/policy's objects, the namespaced ones placed in `namespace` (as
 * kustomize does).
 */
export function localDeployDocs(namespace: string, dirs = LOCAL_DEPLOY_DIRS): RbacDoc[] {
  const out: RbacDoc[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
      for (const doc of loadAllYaml(readFileSync(join(dir, f), "utf8")) as RbacDoc[]) {
        if (!doc || !(doc.kind in COLLECTIONS)) continue;
        if (CLUSTER_SCOPED.has(doc.kind)) {
          out.push(doc);
          continue;
        }
        out.push({
          ...doc,
          metadata: { ...doc.metadata, namespace },
          ...(doc.subjects ? { subjects: doc.subjects.map((s) => ({ ...s, namespace })) } : {}),
        });
      }
    }
  }
  return out;
}

/**
 * Server-side applies deploy/rbac and deploy/policy for `namespace`, and labels the namespace
 * as devreg's so the admission policy binds there (idempotent; the admin's credential does this).
 */
export async function applyLocalDeploy(admin: KubeRest, namespace: string): Promise<void> {
  const apply = (path: string, body: unknown) =>
    admin.request("PATCH", `${path}?fieldManager=${FIELD_MANAGER}&force=true`, {
      body,
      contentType: "application/apply-patch+yaml",
    });
  await apply(namespacePath(namespace), {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespace, labels: { [PART_OF_LABEL]: "devreg" } },
  });
  for (const doc of localDeployDocs(namespace)) {
    await apply(`${(COLLECTIONS[doc.kind] as string).replace("{ns}", namespace)}/${doc.metadata.name}`, doc);
  }
}

/** A real ServiceAccount token from the TokenRequest API. */
export async function serviceAccountToken(
  admin: KubeRest,
  namespace: string,
  name: string,
  expirationSeconds = TOKEN_SECONDS,
): Promise<string> {
  const tr = await admin.request<{ status: { token: string } }>(
    "POST",
    serviceAccountTokenPath(namespace, name),
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } } },
  );
  return tr.status.token;
}

/** A kubeconfig for the same server and CA as `kc`, authenticated only by `token`. */
export function tokenKubeconfigYaml(kc: KubeConfig, token: string): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString("base64") : "");
  return `apiVersion: v1
kind: Config
clusters:
- name: devreg
  cluster:
    server: ${cluster.server}
${ca ? `    certificate-authority-data: ${ca}\n` : ""}users:
- name: devreg
  user:
    token: ${token}
contexts:
- name: devreg
  context: {cluster: devreg, user: devreg}
current-context: devreg
`;
}

/**
 * Local mode without admin rights: applies deploy/rbac and deploy/policy for `namespace` with the admin's
 * credential, then writes `<dir>/<component>-<namespace>.kubeconfig` (mode 0600) carrying only
 * the component's own ServiceAccount token, so the component runs bound by deploy/'s RBAC.
 */
export async function componentKubeconfig(
  admin: KubeRest,
  adminKc: KubeConfig,
  namespace: string,
  component: Component,
  dir: string,
): Promise<string> {
  await applyLocalDeploy(admin, namespace);
  const path = join(dir, `${component}-${namespace}.kubeconfig`);
  writeFileSync(path, tokenKubeconfigYaml(adminKc, await serviceAccountToken(admin, namespace, `devreg-${component}`)), { mode: 0o600 });
  return path;
}
