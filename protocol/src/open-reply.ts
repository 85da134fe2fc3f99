import { MAX_REPLY_BYTES, PUBLIC_KEY_BYTES } from "./constants.ts";
import { parseSign1, sigStructure } from "./cose-sign1.ts";
import { type Ed25519Verify, hasCanonicalS } from "./ed25519-rules.ts";
import { fail, type Result } from "./errors.ts";
import { parseReplyPayload } from "./reply-payload.ts";
import type { EnrollReply } from "./types.ts";

/** What the device is waiting for; a verified reply for anything else is E_UNEXPECTED_REPLY. */
export interface ReplyExpectation {
  deviceId?: string;
  requestId?: string;
}

/**
 * [PROTO-29] Device-side reply check: the signature is verified with the pinned gateway
 * key before the payload is parsed, so an unauthenticated sender never reaches the
 * payload parser. `verify` null skips the signature (tools only). Never throws.
 */
export function openEnrollReply(
  frame: Uint8Array,
  gatewayPublicKey: Uint8Array | null,
  verify: Ed25519Verify | null,
  expect?: ReplyExpectation,
): Result<EnrollReply> {
  try {
    const sign1 = parseSign1(frame, MAX_REPLY_BYTES);
    if (!sign1.ok) return sign1;
    const { protectedBytes, payload, signature } = sign1.value;
    if (verify && gatewayPublicKey) {
      if (
        !hasCanonicalS(signature) ||
        !verify(sigStructure(protectedBytes, payload), signature, gatewayPublicKey)
      ) {
        return fail("E_BAD_SIGNATURE", "reply is not signed by the pinned gateway key", "signature");
      }
    }
    const reply = parseReplyPayload(payload);
    if (!reply.ok) return reply;
    if (expect?.deviceId !== undefined && reply.value.deviceId !== expect.deviceId) {
      return fail("E_UNEXPECTED_REPLY", "reply is for another device", "deviceId");
    }
    // An empty requestId (unreadable request) can only be an error reply; accept it. [PROTO-28]
    if (
      expect?.requestId !== undefined &&
      reply.value.requestId !== "" &&
      reply.value.requestId !== expect.requestId
    ) {
      return fail("E_UNEXPECTED_REPLY", "reply answers another request", "requestId");
    }
    return reply;
  } catch (e) {
    return fail(
      "E_MALFORMED_CBOR",
      `unexpected decoder failure: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

export function checkGatewayKey(gatewayPublicKey: unknown): Result<Uint8Array> {
  if (!(gatewayPublicKey instanceof Uint8Array) || gatewayPublicKey.length !== PUBLIC_KEY_BYTES) {
    return fail("E_BAD_KEY", `gateway public key must be ${PUBLIC_KEY_BYTES} bytes`, "gatewayPublicKey");
  }
  return { ok: true, value: gatewayPublicKey };
}
