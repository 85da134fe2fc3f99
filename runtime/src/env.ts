/**
 * The environment variables devreg reads, read in one place. Each process calls this once at
 * start-up and passes the values on; nothing else looks at process.env for them.
 */
export interface DevregEnv {
  /** DEVREG_NAMESPACE: the namespace devreg runs in. */
  namespace?: string;
  /** KUBECONFIG: path(s) to kubeconfig files. */
  kubeconfig?: string;
  /** LOG_LEVEL: pino level for every component's logger. */
  logLevel?: string;
  /**
   * Every DEVREG_* variable and POD_NAME, as set (empty ones left out), for a component's own
   * settings (the operator's DEVREG_OPERATOR_CONCURRENCY, ...); the component validates them.
   */
  vars?: Readonly<Record<string, string>>;
}

/** Trimmed values; unset and empty are both "not given". */
export function readEnv(env: NodeJS.ProcessEnv = process.env): DevregEnv {
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const out: DevregEnv = {};
  const namespace = get("DEVREG_NAMESPACE");
  const kubeconfig = get("KUBECONFIG");
  const logLevel = get("LOG_LEVEL");
  if (namespace) out.namespace = namespace;
  if (kubeconfig) out.kubeconfig = kubeconfig;
  if (logLevel) out.logLevel = logLevel;
  const vars = Object.entries(env).filter(
    (e): e is [string, string] => (e[0].startsWith("DEVREG_") || e[0] === "POD_NAME") && !!e[1],
  );
  if (vars.length > 0) out.vars = Object.fromEntries(vars);
  return out;
}
