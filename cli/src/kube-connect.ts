import { existsSync } from "node:fs";
import { dirname } from "node:path";
import {
  type Component,
  DEFAULT_NAMESPACE,
  KubeRest,
  componentKubeconfig,
  ensureNamespace,
  localKubeconfigPath,
  resolveKubeConfig,
} from "@devreg/kube";
import type { DevregEnv } from "@devreg/runtime";
import type { Command } from "commander";

/** --namespace default: $DEVREG_NAMESPACE (as the operator reads it), else the default. */
export function defaultNamespace(env: DevregEnv): string {
  return env.namespace ?? DEFAULT_NAMESPACE;
}

/** The global --kubeconfig, if given. */
export function kubeconfigFlag(cmd: Command): string | undefined {
  return cmd.optsWithGlobals<{ kubeconfig?: string }>().kubeconfig;
}

/**
 * The kubeconfig file a component is told to use as given: the global --kubeconfig, else the
 * file $KUBECONFIG names (the first existing one of its colon-separated list).
 */
export function givenKubeconfig(cmd: Command, env: DevregEnv): string | undefined {
  const flag = kubeconfigFlag(cmd);
  if (flag || !env.kubeconfig) return flag;
  return resolveKubeConfig(undefined, env.kubeconfig).origin;
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
async function connect(cmd: Command, env: DevregEnv): Promise<Connection> {
  const o = cmd.optsWithGlobals<{ kubeconfig?: string; namespace?: string }>();
  const { kc, origin } = resolveKubeConfig(o.kubeconfig, env.kubeconfig);
  const rest = await KubeRest.fromKubeConfig(kc, { maxSockets: 4, timeoutMs: 15_000 });
  return { rest, namespace: o.namespace ?? defaultNamespace(env), origin };
}

/** Runs `fn` with a connection and always closes it (keep-alive sockets would hold the process open). */
export async function withConnection<T>(
  cmd: Command,
  env: DevregEnv,
  fn: (c: Connection) => Promise<T>,
): Promise<T> {
  const c = await connect(cmd, env);
  try {
    return await fn(c);
  } finally {
    c.rest.close();
  }
}

/**
 * The kubeconfig a component (gateway, operator) runs with. A given one (givenKubeconfig:
 * --kubeconfig or $KUBECONFIG) is used as it is. On the local control plane the component never gets the
 * admin's credential: the admin's is used once to apply deploy/rbac and request a token of
 * the component's own ServiceAccount, and the component runs with only that token.
 * Otherwise undefined: in-cluster or ~/.kube/config, as resolveKubeConfig finds them.
 */
export async function componentKubeconfigFor(
  given: string | undefined,
  component: Component,
  namespace: string,
  localAdminKubeconfig = localKubeconfigPath(),
): Promise<string | undefined> {
  if (given) return given;
  if (!existsSync(localAdminKubeconfig)) return undefined;
  const { kc } = resolveKubeConfig(localAdminKubeconfig);
  const admin = await KubeRest.fromKubeConfig(kc, { maxSockets: 2, timeoutMs: 15_000 });
  try {
    await ensureNamespace(admin, namespace);
    return await componentKubeconfig(admin, kc, namespace, component, dirname(localAdminKubeconfig));
  } finally {
    admin.close();
  }
}
