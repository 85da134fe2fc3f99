import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { inject } from "vitest";
import { ensureNamespace } from "../src/install.ts";
import { resolveKubeConfig } from "../src/kubeconfig.ts";
import { serviceAccountToken as saToken, tokenKubeconfigYaml } from "../src/local/identities.ts";
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
  writeFileSync(outPath, tokenKubeconfigYaml(resolveKubeConfig(adminKubeconfig).kc, token), { mode: 0o600 });
  return outPath;
}

/** A real ServiceAccount token from the TokenRequest API (one hour). */
export function serviceAccountToken(rest: KubeRest, namespace: string, name: string): Promise<string> {
  return saToken(rest, namespace, name, 3600);
}
