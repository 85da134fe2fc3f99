import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { ensureNamespace } from "../src/install.ts";
import { resolveKubeConfig } from "../src/kubeconfig.ts";
import { KubeRest } from "../src/rest.ts";

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
