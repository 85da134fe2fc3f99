import { asSafeInt, decodeCbor } from "./cbor-codec.ts";
import {
  COSE_SIGN1_TAG,
  DEFAULT_MAX_SKEW_SECONDS,
  MAX_REQUEST_BYTES,
  MESSAGE_TYPE_ENROLL_REQUEST,
  PROTOCOL_VERSION,
  RequestKey,
} from "./constants.ts";
import { parseSign1, sigStructure } from "./cose-sign1.ts";
import { type Ed25519Verify, hasCanonicalS, hasSmallOrderR } from "./ed25519-rules.ts";
import { fail, OK_VOID, ok, type Result } from "./errors.ts";
import { parseRequestPayload, readRequestId } from "./request-payload.ts";
import type { EnrollRequest } from "./types.ts";

export interface DecodeRequestOptions {
  /** Gateway clock in unix seconds; defaults to Date.now(). */
  nowSeconds?: number;
  /** [PROTO-22] Accepted |now - timestamp|; default 300. */
  maxSkewSeconds?: number;
  /** [PROTO-6] deviceId from the topic the frame arrived on; mismatch is E_TOPIC_MISMATCH. */
  expectedDeviceId?: string;
  /**
   * Leave PROTO-22 to the caller (checkClockSkew), which then holds a verified request
   * whose skew it can answer with a signed reply, over HTTP too [PROTO-34].
   */
  skipClockSkew?: boolean;
}

/** [PROTO-22] ok when |now - timestamp| <= maxSkew (default 300 s), else E_CLOCK_SKEW. */
export function checkClockSkew(
  timestamp: number,
  opts: { nowSeconds?: number; maxSkewSeconds?: number } | undefined,
): Result<void> {
  const now = opts?.nowSeconds ?? Math.floor(Date.now() / 1000);
  const maxSkew = opts?.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  if (Math.abs(now - timestamp) > maxSkew) {
    return fail("E_CLOCK_SKEW", `timestamp ${timestamp} is more than ${maxSkew}s from ${now}`, "timestamp");
  }
  return OK_VOID;
}

/** The crypto a side brings: Ed25519 verify and the SHA-512-based deviceId. */
export interface RequestCrypto {
  verify: Ed25519Verify;
  deviceIdOf: (publicKey: Uint8Array) => string;
}

/**
 * Verifies an enroll request in the SPEC §7.3 order [PROTO-24]: size, CBOR profile,
 * envelope, payload (version, type, fields), topic binding, signature, clock skew.
 * Replay is left to the stateful ReplayGuard. Never throws.
 */
export function openEnrollRequest(
  frame: Uint8Array,
  opts: DecodeRequestOptions | undefined,
  crypto: RequestCrypto,
): Result<EnrollRequest> {
  try {
    const sign1 = parseSign1(frame, MAX_REQUEST_BYTES);
    if (!sign1.ok) return sign1;
    const { protectedBytes, payload, signature } = sign1.value;
    const fields = parseRequestPayload(payload);
    if (!fields.ok) return fields;
    const f = fields.value;
    const deviceId = crypto.deviceIdOf(f.publicKey);
    if (opts?.expectedDeviceId !== undefined && opts.expectedDeviceId !== deviceId) {
      return fail("E_TOPIC_MISMATCH", "request key does not belong to the topic's deviceId", "publicKey");
    }
    // [PROTO-16] [PROTO-20] proof of possession of the secret key for publicKey.
    if (
      !hasCanonicalS(signature) ||
      hasSmallOrderR(signature) ||
      !crypto.verify(sigStructure(protectedBytes, payload), signature, f.publicKey)
    ) {
      return fail("E_BAD_SIGNATURE", "signature does not verify with the request's public key", "signature");
    }
    if (!opts?.skipClockSkew) {
      const fresh = checkClockSkew(f.timestamp, opts);
      if (!fresh.ok) return fresh;
    }
    return ok({
      version: PROTOCOL_VERSION,
      publicKey: f.publicKey,
      deviceId,
      requestId: f.requestId,
      nonce: f.nonce,
      timestamp: f.timestamp,
      metadata: f.metadata,
    });
  } catch (e) {
    // Defence in depth: a bug in a check must not take the gateway down. [PROTO-8]
    return fail(
      "E_MALFORMED_CBOR",
      `unexpected decoder failure: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * [PROTO-28] Best-effort requestId of a frame that failed verification, so the error
 * reply can still name the request it answers. Returns null if none can be read.
 */
export function peekRequestId(frame: Uint8Array): string | null {
  try {
    if (!(frame instanceof Uint8Array) || frame.length > MAX_REQUEST_BYTES) return null;
    const outer = decodeCbor(frame, { rootTag: COSE_SIGN1_TAG });
    if (!outer.ok) return null;
    const parts: unknown = (outer.value as { value?: unknown } | null)?.value;
    if (!Array.isArray(parts) || !(parts[2] instanceof Uint8Array)) return null;
    const inner = decodeCbor(parts[2]);
    if (!inner.ok || !(inner.value instanceof Map)) return null;
    let raw: unknown;
    let type: unknown;
    for (const [k, v] of inner.value) {
      const key = asSafeInt(k);
      if (key === RequestKey.requestId) raw = v;
      if (key === RequestKey.messageType) type = v;
    }
    if (asSafeInt(type) !== MESSAGE_TYPE_ENROLL_REQUEST) return null;
    const id = readRequestId(raw);
    return id.ok ? id.value : null;
  } catch {
    return null;
  }
}
