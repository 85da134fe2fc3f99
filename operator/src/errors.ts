/** Stable codes for the operator's own failures (Kubernetes failures stay KubeError). */
export type OperatorErrorCode =
  | "E_CONFIG"
  | "E_PAIRING_CONFIG"
  | "E_CONFLICT_RETRIES"
  | "E_LEADER_ELECTION"
  | "E_HTTP_LISTEN"
  | "E_CRD_MISSING"
  | "E_START_TIMEOUT"
  | "E_NOT_FOUND"
  | "E_STOPPED";

export class OperatorError extends Error {
  override readonly name = "OperatorError";
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isOperatorError(err: unknown, code?: OperatorErrorCode): err is OperatorError {
  return err instanceof OperatorError && (code === undefined || err.code === code);
}
