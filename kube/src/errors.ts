/** Stable codes for everything that can go wrong talking to Kubernetes. */
export type KubeErrorCode =
  | "E_KUBE_NOT_FOUND"
  | "E_KUBE_ALREADY_EXISTS"
  | "E_KUBE_CONFLICT"
  | "E_KUBE_FORBIDDEN"
  | "E_KUBE_UNAUTHORIZED"
  | "E_KUBE_INVALID"
  | "E_KUBE_GONE"
  | "E_KUBE_THROTTLED"
  | "E_KUBE_UNAVAILABLE"
  | "E_KUBE_TIMEOUT"
  | "E_KUBE_HTTP"
  | "E_KUBECONFIG";

export class KubeError extends Error {
  override readonly name = "KubeError";
  constructor(
    readonly code: KubeErrorCode,
    message: string,
    readonly status?: number,
    /** Seconds the server asked us to wait (429 / 503 Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function codeForStatus(status: number, reason?: string): KubeErrorCode {
  if (status === 404) return "E_KUBE_NOT_FOUND";
  if (status === 409) return reason === "AlreadyExists" ? "E_KUBE_ALREADY_EXISTS" : "E_KUBE_CONFLICT";
  if (status === 403) return "E_KUBE_FORBIDDEN";
  if (status === 401) return "E_KUBE_UNAUTHORIZED";
  if (status === 422 || status === 400) return "E_KUBE_INVALID";
  if (status === 410) return "E_KUBE_GONE";
  if (status === 429) return "E_KUBE_THROTTLED";
  if (status === 503 || status === 502 || status === 500 || status === 504) return "E_KUBE_UNAVAILABLE";
  return "E_KUBE_HTTP";
}

export function isKubeError(err: unknown, code?: KubeErrorCode): err is KubeError {
  return err instanceof KubeError && (code === undefined || err.code === code);
}

/** Errors worth retrying: the server is busy, slow or briefly gone. */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof KubeError &&
    (err.code === "E_KUBE_THROTTLED" || err.code === "E_KUBE_UNAVAILABLE" || err.code === "E_KUBE_TIMEOUT")
  );
}
