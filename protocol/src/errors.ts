import type { ReplyStatus } from "./types.ts";

/**
 * Stable error codes. Callers switch on `code`, never on `message` (SPEC §11, [PROTO-35]).
 * Adding a code is a minor change; renaming one is a breaking change.
 */
export type ProtocolErrorCode =
  | "E_TOO_LARGE"
  | "E_MALFORMED_CBOR"
  | "E_TRAILING_BYTES"
  | "E_DUPLICATE_KEY"
  | "E_INDEFINITE_LENGTH"
  | "E_TOO_DEEP"
  | "E_UNKNOWN_VERSION"
  | "E_WRONG_MESSAGE_TYPE"
  | "E_MISSING_FIELD"
  | "E_EXTRA_FIELD"
  | "E_WRONG_TYPE"
  | "E_INVALID_VALUE"
  | "E_BAD_ALGORITHM"
  | "E_BAD_KEY"
  | "E_BAD_SIGNATURE"
  | "E_CLOCK_SKEW"
  | "E_REPLAY"
  | "E_REPLAY_CACHE_FULL"
  | "E_TOPIC_MISMATCH"
  | "E_CLIENT_MISMATCH"
  | "E_UNEXPECTED_REPLY"
  | "E_BAD_ENCODING";

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;
  /** Payload field or envelope part the error is about, when there is one. */
  readonly field: string | undefined;

  constructor(code: ProtocolErrorCode, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export type Result<T, E = ProtocolError> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(
  code: ProtocolErrorCode,
  message: string,
  field?: string,
): { ok: false; error: ProtocolError } {
  return { ok: false, error: new ProtocolError(code, message, field) };
}

export const OK_VOID: Result<void> = Object.freeze({ ok: true, value: undefined });

/** Reply reason for each error code: the SPEC §11 table, [PROTO-35]. */
const REASONS: Record<ProtocolErrorCode, string> = {
  E_TOO_LARGE: "TooLarge",
  E_MALFORMED_CBOR: "Malformed",
  E_TRAILING_BYTES: "Malformed",
  E_DUPLICATE_KEY: "Malformed",
  E_INDEFINITE_LENGTH: "Malformed",
  E_TOO_DEEP: "Malformed",
  E_UNKNOWN_VERSION: "UnsupportedVersion",
  E_WRONG_MESSAGE_TYPE: "Malformed",
  E_MISSING_FIELD: "Malformed",
  E_EXTRA_FIELD: "Malformed",
  E_WRONG_TYPE: "Malformed",
  E_INVALID_VALUE: "Malformed",
  E_BAD_ALGORITHM: "BadSignature",
  E_BAD_KEY: "BadKey",
  E_BAD_SIGNATURE: "BadSignature",
  E_CLOCK_SKEW: "ClockSkew",
  E_REPLAY: "Replay",
  E_REPLAY_CACHE_FULL: "Busy",
  E_TOPIC_MISMATCH: "TopicMismatch",
  E_CLIENT_MISMATCH: "ClientMismatch",
  E_UNEXPECTED_REPLY: "Malformed",
  E_BAD_ENCODING: "Malformed",
};

/** CamelCase reason the gateway puts in the reply it sends for this error. [PROTO-35] */
export function reasonForError(err: ProtocolError): string {
  return REASONS[err.code] ?? "Malformed";
}

/** Reply status for this error: "busy" when the gateway is out of capacity, else "error". [PROTO-35] */
export function statusForError(err: ProtocolError): ReplyStatus {
  return err.code === "E_REPLAY_CACHE_FULL" ? "busy" : "error";
}
