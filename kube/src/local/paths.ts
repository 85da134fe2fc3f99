import { homedir } from "node:os";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `devreg cluster up` keeps its state (PKI, etcd data, logs, kubeconfig). */
export function localStateDir(): string {
  if (process.env.DEVREG_STATE_DIR) return process.env.DEVREG_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "devreg", "cluster");
}

export function localKubeconfigPath(stateDir = localStateDir()): string {
  return join(stateDir, "kubeconfig");
}

/** Per-machine cache of built binaries (shared by every state dir). */
export function cacheDir(): string {
  if (process.env.DEVREG_CACHE_DIR) return process.env.DEVREG_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "devreg");
}

const GO_MODULES_DIR = resolve(fileURLToPath(new URL("../../../deploy/local/go", import.meta.url)));

/**
 * The version deploy/local/go/<dir>/go.mod requires of `module`: the pin the build script
 * builds, so the cached binary's name and the build agree on one source of truth.
 */
export function pinnedVersion(dir: "kube-apiserver" | "etcd", module: string): string {
  const gomod = readFileSync(join(GO_MODULES_DIR, dir, "go.mod"), "utf8");
  const m = new RegExp(`^(?:require\\s+)?\\s*${module.replace(/\./g, "\\.")}\\s+(v\\S+)`, "m").exec(gomod);
  if (!m?.[1]) throw new Error(`no version of ${module} in ${dir}/go.mod`);
  return m[1];
}

export const KUBE_VERSION = pinnedVersion("kube-apiserver", "k8s.io/kubernetes");
export const ETCD_VERSION = pinnedVersion("etcd", "go.etcd.io/etcd/server/v3");

export function cachedApiserverPath(): string {
  return process.env.DEVREG_KUBE_APISERVER || join(cacheDir(), "bin", `kube-apiserver-${KUBE_VERSION}`);
}

export function cachedEtcdPath(): string {
  return process.env.DEVREG_ETCD || join(cacheDir(), "bin", `etcd-${ETCD_VERSION}`);
}
