/** Stable codes for the ways a bench run can fail before it has numbers to report. */
export type BenchErrorCode =
  | "E_USAGE"
  | "E_FD_LIMIT"
  | "E_PIN"
  | "E_CHILD_START"
  | "E_CHILD_DIED"
  | "E_PHASE_FAILED"
  | "E_REJECTED"
  | "E_BAD_REPLY"
  | "E_NO_PROCFS"
  | "E_TIMEOUT"
  | "E_INTERRUPTED";

export class BenchError extends Error {
  override readonly name = "BenchError";
  constructor(
    readonly code: BenchErrorCode,
    message: string,
    /** A short, low-cardinality reason counted with the code, e.g. "failed: deadline". */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** A short, stable label for an error, used to count errors by kind in the results. */
export function errorKind(err: unknown): string {
  if (err instanceof BenchError && err.detail) return `${err.code} (${err.detail})`;
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  if (err instanceof Error) return err.name;
  return "unknown";
}
