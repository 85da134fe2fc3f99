import { ClusterError, KubeError } from "@devreg/kube";

/** A failure the user can act on: printed as one line, exit 1, never a stack trace. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A bad command line (an option's value, a missing or conflicting option): exit 2, like commander's own. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, 2);
  }
}

/** Turns any error into the one line the user sees. */
export function describeError(err: unknown): string {
  if (err instanceof CliError || err instanceof ClusterError) return err.message;
  if (err instanceof KubeError) {
    if (err.code === "E_KUBE_UNAVAILABLE" || err.code === "E_KUBE_TIMEOUT") {
      return `cannot reach the Kubernetes API (${err.message}); is the cluster up? (devreg cluster status)`;
    }
    return err.message;
  }
  const e = err as { code?: string; message?: string };
  if (e && typeof e.code === "string" && typeof e.message === "string") return `${e.code}: ${e.message}`;
  return String((err as Error)?.message ?? err);
}
