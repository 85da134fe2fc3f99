import { DEFAULT_NAMESPACE, KubeRest, resolveKubeConfig } from "@devreg/kube";
import type { Command } from "commander";

/** --namespace default for admin commands: $DEVREG_NAMESPACE (as the operator reads it), else the default. */
export function defaultNamespace(): string {
  return process.env.DEVREG_NAMESPACE || DEFAULT_NAMESPACE;
}

export interface Connection {
  rest: KubeRest;
  namespace: string;
  /** Where the kubeconfig came from, for messages. */
  origin: string;
}

/**
 * Resolves the cluster from the global --kubeconfig (then $KUBECONFIG, the local control plane,
 * in-cluster, ~/.kube/config) and the command's --namespace. A bad kubeconfig fails here with a
 * one-line KubeError (E_KUBECONFIG); an unreachable server fails on the first request.
 */
export async function connect(cmd: Command): Promise<Connection> {
  const o = cmd.optsWithGlobals<{ kubeconfig?: string; namespace?: string }>();
  const { kc, origin } = resolveKubeConfig(o.kubeconfig);
  const rest = await KubeRest.fromKubeConfig(kc, { maxSockets: 4, timeoutMs: 15_000 });
  return { rest, namespace: o.namespace ?? defaultNamespace(), origin };
}

/** Runs `fn` with a connection and always closes it (keep-alive sockets would hold the process open). */
export async function withConnection<T>(cmd: Command, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await connect(cmd);
  try {
    return await fn(c);
  } finally {
    c.rest.close();
  }
}
