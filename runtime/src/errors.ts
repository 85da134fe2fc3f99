/** Stable codes for failures of the shared runtime layer. */
export type RuntimeErrorCode = "E_CONFIG" | "E_LISTEN" | "E_TIMEOUT";

export class RuntimeError extends Error {
  override readonly name = "RuntimeError";
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isRuntimeError(err: unknown, code?: RuntimeErrorCode): err is RuntimeError {
  return err instanceof RuntimeError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for logs and one-line answers. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
