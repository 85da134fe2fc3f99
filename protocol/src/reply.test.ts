import { describe, expect, it } from "vitest";
import { encodeCbor } from "./cbor-codec.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "./cose-sign1.ts";
import {
  createGatewaySigner,
  decodeEnrollReplyUnverified,
  deviceIdFromPublicKey,
  type EnrollReply,
  encodeEnrollReply,
  type GatewaySigner,
  generateDeviceKeyPair,
  MAX_REPLY_BYTES,
  ProtocolError,
  validateEnrollReply,
  verifyEnrollReply,
  verifyEnrollReplyWithNode,
} from "./index.ts";

const NOW = 1_700_000_000;
const gateway = createGatewaySigner(new Uint8Array(32).fill(7));
const deviceId = deviceIdFromPublicKey(generateDeviceKeyPair(new Uint8Array(32).fill(9)).publicKey);
const UUID = "0b9f6a2e-5c1d-4f7a-8e3b-2d4c6a8f0e1b";
const approved: EnrollReply = {
  version: 1,
  requestId: "req-1",
  deviceId,
  status: "approved",
  deviceUUID: UUID,
  timestamp: NOW,
};
const code = (r: { ok: boolean; error?: ProtocolError }) => (r.ok ? "ok" : r.error!.code);
function thrownCode(fn: () => unknown): string {
  try {
    fn();
    return "no throw";
  } catch (e) {
    return e instanceof ProtocolError ? e.code : `not a ProtocolError: ${String(e)}`;
  }
}
/** A reply payload signed by the gateway key, bypassing encoder checks. */
function signRaw(payload: Map<number, unknown>): Uint8Array {
  const bytes = encodeCbor(payload);
  return encodeSign1(
    EDDSA_PROTECTED_HEADER,
    bytes,
    gateway.signBytes(sigStructure(EDDSA_PROTECTED_HEADER, bytes)),
  );
}

describe("enroll reply", () => {
  it("[PROTO-25] round-trips every optional field", () => {
    const reply: EnrollReply = {
      ...approved,
      reason: "AlreadyEnrolled",
      message: "hello",
      retryAfterSeconds: 0,
    };
    const frame = encodeEnrollReply(reply, gateway);
    expect(verifyEnrollReply(frame, gateway.publicKey)).toEqual({ ok: true, value: reply });
    expect(verifyEnrollReplyWithNode(frame, gateway.publicKey)).toEqual({ ok: true, value: reply });
  });

  it("[PROTO-25] [PROTO-13] the largest valid reply fits MAX_REPLY_BYTES", () => {
    const frame = encodeEnrollReply(
      {
        ...approved,
        requestId: "r".repeat(36),
        reason: "R".repeat(64),
        message: "\u{1F600}".repeat(64),
        retryAfterSeconds: 86_400,
        timestamp: Number.MAX_SAFE_INTEGER,
      },
      gateway,
    );
    expect(frame.length).toBe(539); // SPEC §8.1 quotes this figure
    expect(frame.length).toBeLessThanOrEqual(MAX_REPLY_BYTES);
    expect(code(verifyEnrollReply(frame, gateway.publicKey))).toBe("ok");
    expect(code(verifyEnrollReply(new Uint8Array(MAX_REPLY_BYTES + 1), gateway.publicKey))).toBe(
      "E_TOO_LARGE",
    );
  });

  it("[PROTO-26] each status demands its field, on encode and on decode", () => {
    const cases: [EnrollReply, string][] = [
      [{ ...approved, deviceUUID: undefined }, "deviceUUID"],
      [{ ...approved, status: "deactivated", deviceUUID: undefined }, "deviceUUID"],
      [{ ...approved, status: "pending", deviceUUID: undefined }, "retryAfterSeconds"],
      [{ ...approved, status: "busy" }, "retryAfterSeconds"],
      [{ ...approved, status: "rejected" }, "reason"],
      [{ ...approved, status: "error" }, "reason"],
    ];
    for (const [reply, field] of cases) {
      const r = validateEnrollReply(reply);
      expect(r.ok ? "ok" : `${r.error.code}/${r.error.field}`, reply.status).toBe(`E_MISSING_FIELD/${field}`);
      expect(thrownCode(() => encodeEnrollReply(reply, gateway))).toBe("E_MISSING_FIELD");
    }
    const noUuid = new Map<number, unknown>([
      [1, 1],
      [2, 2],
      [3, "req-1"],
      [4, deviceId],
      [5, 0],
      [6, NOW],
    ]);
    expect(code(verifyEnrollReply(signRaw(noUuid), gateway.publicKey))).toBe("E_MISSING_FIELD");
  });

  it("[PROTO-26] status travels as the documented unsigned integer", () => {
    const wire: Record<string, number> = {
      approved: 0,
      rejected: 1,
      pending: 2,
      deactivated: 3,
      busy: 4,
      error: 5,
    };
    for (const [status, n] of Object.entries(wire)) {
      const reply = { ...approved, status, reason: "X", retryAfterSeconds: 1 } as EnrollReply;
      const frame = encodeEnrollReply(reply, gateway);
      // payload key 5 (status) directly follows the 34-byte deviceId entry
      const hex = Buffer.from(frame).toString("hex");
      expect(hex).toContain(`${Buffer.from(deviceId).toString("hex")}05${n.toString(16).padStart(2, "0")}`);
    }
    expect(thrownCode(() => encodeEnrollReply({ ...approved, status: "maybe" as never }, gateway))).toBe(
      "E_INVALID_VALUE",
    );
    expect(thrownCode(() => encodeEnrollReply({ ...approved, status: "toString" as never }, gateway))).toBe(
      "E_INVALID_VALUE",
    );
  });

  it("[PROTO-27] reasons are CamelCase ASCII up to 64 characters", () => {
    for (const reason of ["PairingDisabled", "Busy", "X", "Invalid2", "R".repeat(64)]) {
      expect(validateEnrollReply({ ...approved, reason }).ok, reason).toBe(true);
    }
    for (const reason of [
      "",
      "pairingDisabled",
      "Pairing-Disabled",
      "Pairing Disabled",
      "R".repeat(65),
      "Ünknown",
    ]) {
      expect(code(validateEnrollReply({ ...approved, reason })), reason).toBe("E_INVALID_VALUE");
    }
  });

  it("[PROTO-28] carries the requestId; only error replies may leave it empty", () => {
    const frame = encodeEnrollReply({ ...approved, requestId: "abc" }, gateway);
    expect(verifyEnrollReply(frame, gateway.publicKey, { requestId: "abc", deviceId }).ok).toBe(true);
    expect(code(verifyEnrollReply(frame, gateway.publicKey, { requestId: "abd" }))).toBe(
      "E_UNEXPECTED_REPLY",
    );
    expect(code(verifyEnrollReply(frame, gateway.publicKey, { deviceId: "0".repeat(32) }))).toBe(
      "E_UNEXPECTED_REPLY",
    );
    const anon: EnrollReply = {
      version: 1,
      requestId: "",
      deviceId,
      status: "error",
      reason: "Malformed",
      timestamp: NOW,
    };
    const anonFrame = encodeEnrollReply(anon, gateway);
    expect(verifyEnrollReply(anonFrame, gateway.publicKey, { requestId: "abc" })).toEqual({
      ok: true,
      value: anon,
    });
    expect(thrownCode(() => encodeEnrollReply({ ...approved, requestId: "" }, gateway))).toBe(
      "E_INVALID_VALUE",
    );
    expect(thrownCode(() => encodeEnrollReply({ ...approved, deviceId: "dev" }, gateway))).toBe(
      "E_INVALID_VALUE",
    );
  });

  it("[PROTO-29] verifies with the pinned key before reading the payload", () => {
    const frame = encodeEnrollReply(approved, gateway);
    const impostor = createGatewaySigner(new Uint8Array(32).fill(8));
    expect(code(verifyEnrollReply(frame, impostor.publicKey))).toBe("E_BAD_SIGNATURE");
    expect(code(verifyEnrollReply(encodeEnrollReply(approved, impostor), gateway.publicKey))).toBe(
      "E_BAD_SIGNATURE",
    );
    // An unsigned-but-garbage payload reports the signature, not the payload problem.
    const junkPayload = encodeSign1(EDDSA_PROTECTED_HEADER, Uint8Array.of(0xff), new Uint8Array(64));
    expect(code(verifyEnrollReply(junkPayload, gateway.publicKey))).toBe("E_BAD_SIGNATURE");
    expect(code(decodeEnrollReplyUnverified(junkPayload))).toBe("E_MALFORMED_CBOR");
    expect(code(verifyEnrollReply(frame, new Uint8Array(31)))).toBe("E_BAD_KEY");
    expect(code(verifyEnrollReply(frame, "key" as never))).toBe("E_BAD_KEY");
    expect(code(verifyEnrollReplyWithNode(frame, new Uint8Array(33)))).toBe("E_BAD_KEY");
  });

  it("[PROTO-29] decodeEnrollReplyUnverified reads replies from any signer (tools only)", () => {
    const impostor = createGatewaySigner(new Uint8Array(32).fill(8));
    expect(decodeEnrollReplyUnverified(encodeEnrollReply(approved, impostor))).toEqual({
      ok: true,
      value: approved,
    });
  });

  it("[PROTO-30] message is truncated to 256 UTF-8 bytes at a code point boundary, never split", () => {
    const long = `${"a".repeat(255)}é tail`;
    const r = verifyEnrollReply(
      encodeEnrollReply({ ...approved, message: long }, gateway),
      gateway.publicKey,
    );
    expect(r.ok && r.value.message).toBe("a".repeat(255));
    const emoji = "\u{1F600}".repeat(100); // 4 bytes each
    const r2 = verifyEnrollReply(
      encodeEnrollReply({ ...approved, message: emoji }, gateway),
      gateway.publicKey,
    );
    expect(r2.ok && r2.value.message).toBe("\u{1F600}".repeat(64));
    const lone = verifyEnrollReply(
      encodeEnrollReply({ ...approved, message: "a\ud800b" }, gateway),
      gateway.publicKey,
    );
    expect(lone.ok && lone.value.message).toBe("a\ufffdb");
    const raw = new Map<number, unknown>([
      [1, 1],
      [2, 2],
      [3, "req-1"],
      [4, deviceId],
      [5, 0],
      [6, NOW],
      [7, UUID],
      [9, "m".repeat(257)],
    ]);
    expect(code(verifyEnrollReply(signRaw(raw), gateway.publicKey))).toBe("E_INVALID_VALUE");
  });

  it("[PROTO-33] a reply of another version is E_UNKNOWN_VERSION; the encoder refuses to write one", () => {
    const raw = new Map<number, unknown>([
      [1, 2],
      [2, 2],
      [3, "req-1"],
      [4, deviceId],
      [5, 0],
      [6, NOW],
      [7, UUID],
    ]);
    expect(code(verifyEnrollReply(signRaw(raw), gateway.publicKey))).toBe("E_UNKNOWN_VERSION");
    expect(thrownCode(() => encodeEnrollReply({ ...approved, version: 2 }, gateway))).toBe(
      "E_UNKNOWN_VERSION",
    );
  });

  it("[PROTO-36] never throws on junk", () => {
    for (const j of [undefined, null, "x", 1, {}, new Uint8Array(0), Uint8Array.of(0xd2)]) {
      expect(verifyEnrollReply(j as Uint8Array, gateway.publicKey).ok).toBe(false);
      expect(decodeEnrollReplyUnverified(j as Uint8Array).ok).toBe(false);
    }
  });
});

describe("gateway signer", () => {
  it("[PROTO-29] loads a PEM, a 32-byte seed, or generates a key; the PEM round-trips", () => {
    const fresh = createGatewaySigner();
    expect(fresh.publicKey).toHaveLength(32);
    const reloaded = createGatewaySigner(fresh.privateKeyPem);
    expect(reloaded.publicKey).toEqual(fresh.publicKey);
    expect(createGatewaySigner(new Uint8Array(32).fill(7)).publicKey).toEqual(gateway.publicKey);
    expect(thrownCode(() => createGatewaySigner("not a pem"))).toBe("E_BAD_KEY");
    expect(thrownCode(() => createGatewaySigner(new Uint8Array(31)))).toBe("E_BAD_KEY");
  });

  it("[PROTO-29] encodeEnrollReply validates even with a custom signer", () => {
    const calls: EnrollReply[] = [];
    const fake: GatewaySigner = {
      publicKey: gateway.publicKey,
      sign: (r) => {
        calls.push(r);
        return gateway.sign(r);
      },
    };
    expect(thrownCode(() => encodeEnrollReply({ ...approved, deviceUUID: "nope" }, fake))).toBe(
      "E_INVALID_VALUE",
    );
    expect(calls).toHaveLength(0);
    expect(verifyEnrollReply(encodeEnrollReply(approved, fake), gateway.publicKey).ok).toBe(true);
  });
});

describe("over-rate answer", () => {
  it("[PROTO-42] both forms of the signed over-rate answer are valid replies, and busy needs retryAfterSeconds", () => {
    const busy = { ...approved, status: "busy" as const, reason: "Busy", retryAfterSeconds: 5 };
    delete (busy as Partial<EnrollReply>).deviceUUID;
    expect(validateEnrollReply(busy).ok).toBe(true);
    const noId = { ...busy, requestId: "", status: "error" as const };
    expect(validateEnrollReply(noId).ok).toBe(true);
    const { retryAfterSeconds: _, ...withoutRetry } = busy;
    const r = validateEnrollReply(withoutRetry);
    expect(r.ok ? "ok" : r.error.code).toBe("E_MISSING_FIELD");
  });
});
