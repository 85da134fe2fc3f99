/**
 * Stable error codes of the simulator. Callers switch on `code`, never on `message`.
 * Adding a code is a minor change; renaming one is a breaking change.
 */
export type SimErrorCode =
  /** The identity file exists but cannot be used (bad JSON, wrong sizes, key/id mismatch). */
  | "E_IDENTITY_CORRUPT"
  /** The identity file could not be read or written (permissions, disk). */
  | "E_IDENTITY_IO"
  /** Nothing listens at the MQTT URL (connection refused, unknown host, timeout). */
  | "E_GATEWAY_UNREACHABLE"
  /** Replies arrive but none verifies against the pinned gateway key. */
  | "E_GATEWAY_KEY_MISMATCH"
  /** A caller passed an option the simulator cannot use. */
  | "E_BAD_OPTION";

export class SimError extends Error {
  override readonly name = "SimError";
  constructor(
    readonly code: SimErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
