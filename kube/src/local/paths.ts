import { homedir } from "node:os";
import { join } from "node:path";

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

export const KUBE_VERSION = "1.20.2";

export function cachedApiserverPath(): string {
  return process.env.DEVREG_KUBE_APISERVER || join(cacheDir(), "bin", `kube-apiserver-${KUBE_VERSION}`);
}
