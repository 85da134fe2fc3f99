import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@devreg/runtime";
import { loadAll as loadAllYaml } from "js-yaml";
import { KubeError, isKubeError } from "./errors.ts";
import { CRDS_PATH, DEVREG_API_PATH, NAMESPACES_PATH, crdPath } from "./paths.ts";
import type { KubeRest } from "./rest.ts";

export const CRDS_DIR = resolve(fileURLToPath(new URL("../../crds", import.meta.url)));

interface Crd {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** Reads every CustomResourceDefinition in crds/ (the single source; deploy/ references it too). */
export function readCrds(dir = CRDS_DIR): Crd[] {
  const out: Crd[] = [];
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()) {
    for (const doc of loadAllYaml(readFileSync(join(dir, f), "utf8")) as Array<{ kind?: string }>) {
      if (doc?.kind === "CustomResourceDefinition") out.push(doc as unknown as Crd);
    }
  }
  return out;
}

/** Creates or replaces the CRDs and waits until the apiserver serves them (Established). */
export async function installCrds(rest: KubeRest, timeoutMs = 30_000): Promise<string[]> {
  const names: string[] = [];
  for (const crd of readCrds()) {
    names.push(crd.metadata.name);
    try {
      await rest.request("POST", CRDS_PATH, { body: crd });
    } catch (e) {
      if (!isKubeError(e, "E_KUBE_ALREADY_EXISTS")) throw e;
      const cur = await rest.request<Crd>("GET", crdPath(crd.metadata.name));
      await rest.request("PUT", crdPath(crd.metadata.name), {
        body: { ...crd, metadata: { ...crd.metadata, resourceVersion: cur.metadata.resourceVersion } },
      });
    }
  }
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  for (const name of names) {
    const established = async () =>
      (await rest.request<Crd>("GET", crdPath(name))).status?.conditions?.some(
        (c) => c.type === "Established" && c.status === "True",
      ) === true;
    await waitFor(established, {
      timeoutMs: left(),
      intervalMs: 100,
      onTimeout: () => new KubeError("E_KUBE_TIMEOUT", `CRD ${name} not established in ${timeoutMs} ms`),
    });
  }
  // Discovery can lag Established by a moment; wait until the group version lists the resource.
  let discoveryError: unknown;
  const discovered = () =>
    rest.request("GET", DEVREG_API_PATH).then(
      () => true,
      (e: unknown) => {
        discoveryError = e;
        return false;
      },
    );
  await waitFor(discovered, { timeoutMs: left(), intervalMs: 100, onTimeout: () => discoveryError as Error });
  return names;
}

export async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  try {
    await rest.request("POST", NAMESPACES_PATH, {
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    });
  } catch (e) {
    if (!isKubeError(e, "E_KUBE_ALREADY_EXISTS")) throw e;
  }
}
