import { describe, expect, it } from "vitest";
import { ProtocolError, type ProtocolErrorCode, reasonForError, statusForError } from "./index.ts";

/** SPEC §11 table, duplicated here on purpose: changing a mapping must change this test. */
const TABLE: Record<ProtocolErrorCode, [string, string]> = {
  E_TOO_LARGE: ["error", "TooLarge"],
  E_MALFORMED_CBOR: ["error", "Malformed"],
  E_TRAILING_BYTES: ["error", "Malformed"],
  E_DUPLICATE_KEY: ["error", "Malformed"],
  E_INDEFINITE_LENGTH: ["error", "Malformed"],
  E_TOO_DEEP: ["error", "Malformed"],
  E_UNKNOWN_VERSION: ["error", "UnsupportedVersion"],
  E_WRONG_MESSAGE_TYPE: ["error", "Malformed"],
  E_MISSING_FIELD: ["error", "Malformed"],
  E_EXTRA_FIELD: ["error", "Malformed"],
  E_WRONG_TYPE: ["error", "Malformed"],
  E_INVALID_VALUE: ["error", "Malformed"],
  E_BAD_ALGORITHM: ["error", "BadSignature"],
  E_BAD_KEY: ["error", "BadKey"],
  E_BAD_SIGNATURE: ["error", "BadSignature"],
  E_CLOCK_SKEW: ["error", "ClockSkew"],
  E_REPLAY: ["error", "Replay"],
  E_REPLAY_CACHE_FULL: ["busy", "Busy"],
  E_TOPIC_MISMATCH: ["error", "TopicMismatch"],
  E_CLIENT_MISMATCH: ["error", "ClientMismatch"],
  E_UNEXPECTED_REPLY: ["error", "Malformed"],
  E_BAD_ENCODING: ["error", "Malformed"],
};

describe("errors", () => {
  it("[PROTO-35] every error code maps to the documented reply status and CamelCase reason", () => {
    for (const [c, [status, reason]] of Object.entries(TABLE) as [ProtocolErrorCode, [string, string]][]) {
      const err = new ProtocolError(c, "x");
      expect(statusForError(err), c).toBe(status);
      expect(reasonForError(err), c).toBe(reason);
      expect(reason).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    }
  });

  it("[PROTO-35] ProtocolError is an Error with a stable code and optional field", () => {
    const err = new ProtocolError("E_REPLAY", "seen", "nonce");
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ProtocolError");
    expect(err.code).toBe("E_REPLAY");
    expect(err.field).toBe("nonce");
    expect(err.message).toBe("seen");
  });
});
