export type ClusterErrorCode =
  | "E_MISSING_BINARY"
  | "E_BUILD_FAILED"
  | "E_PKI"
  | "E_PORT"
  | "E_ETCD_DIED"
  | "E_ETCD_NOT_READY"
  | "E_APISERVER_DIED"
  | "E_APISERVER_NOT_READY"
  | "E_ALREADY_RUNNING"
  | "E_STALE_STATE"
  | "E_NOT_RUNNING";

/** A control-plane failure, with one line that says what to do about it. */
export class ClusterError extends Error {
  override readonly name = "ClusterError";
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
  ) {
    super(message);
  }
}
