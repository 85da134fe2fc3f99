import { Tag } from "cbor-x";
import { asSafeInt, cborHead, concatBytes, decodeCbor, encodeCbor } from "./cbor-codec.ts";
import { COSE_ALG_EDDSA, COSE_HEADER_ALG, COSE_SIGN1_TAG, SIGNATURE_BYTES } from "./constants.ts";
import { fail, ok, type Result } from "./errors.ts";

/** [PROTO-14] The only protected header: the map {1: -8} (alg: EdDSA), encoded A1 01 27. */
export const EDDSA_PROTECTED_HEADER: Uint8Array = Uint8Array.of(0xa1, 0x01, 0x27);

/** 84 6A "Signature1": array(4) head and the context string of RFC 9052 §4.4. */
const SIG_STRUCTURE_PREFIX = Uint8Array.of(
  0x84,
  0x6a,
  0x53,
  0x69,
  0x67,
  0x6e,
  0x61,
  0x74,
  0x75,
  0x72,
  0x65,
  0x31,
);
/** external_aad is always the empty byte string. */
const EMPTY_BSTR = Uint8Array.of(0x40);

/**
 * [PROTO-15] The bytes Ed25519 signs: Sig_structure = ["Signature1", protected, h'', payload],
 * built from the protected and payload bytes exactly as they appear in the frame.
 */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes(
    SIG_STRUCTURE_PREFIX,
    cborHead(2, protectedBytes.length),
    protectedBytes,
    EMPTY_BSTR,
    cborHead(2, payload.length),
    payload,
  );
}

/** [PROTO-14] Tagged COSE_Sign1: 18([protected, {}, payload, signature]). */
export function encodeSign1(
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  return encodeCbor(new Tag([protectedBytes, new Map(), payload, signature], COSE_SIGN1_TAG));
}

export interface Sign1Parts {
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

/**
 * Strict parse of the envelope; does not look inside the payload and does not verify.
 * Order of checks fixes which error wins (SPEC §7.3, [PROTO-24]).
 */
export function parseSign1(frame: unknown, maxBytes: number): Result<Sign1Parts> {
  if (!(frame instanceof Uint8Array)) return fail("E_WRONG_TYPE", "frame must be a Uint8Array", "frame");
  if (frame.length > maxBytes) {
    return fail("E_TOO_LARGE", `frame is ${frame.length} bytes, limit ${maxBytes}`, "frame");
  }
  const decoded = decodeCbor(frame, { rootTag: COSE_SIGN1_TAG });
  if (!decoded.ok) return decoded;
  const root = decoded.value;
  if (!(root instanceof Tag) || root.tag !== COSE_SIGN1_TAG) {
    return fail("E_WRONG_TYPE", "frame is not a tagged COSE_Sign1 (tag 18)", "frame");
  }
  const parts: unknown = root.value;
  if (!Array.isArray(parts)) return fail("E_WRONG_TYPE", "COSE_Sign1 must be an array", "frame");
  if (parts.length < 4) return fail("E_MISSING_FIELD", "COSE_Sign1 needs 4 elements", "frame");
  if (parts.length > 4) return fail("E_EXTRA_FIELD", "COSE_Sign1 has more than 4 elements", "frame");
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  if (!(protectedBytes instanceof Uint8Array)) {
    return fail("E_WRONG_TYPE", "protected header must be a byte string", "protected");
  }
  if (!(unprotected instanceof Map))
    return fail("E_WRONG_TYPE", "unprotected header must be a map", "unprotected");
  if (!(payload instanceof Uint8Array))
    return fail("E_WRONG_TYPE", "payload must be a byte string", "payload");
  if (!(signature instanceof Uint8Array)) {
    return fail("E_WRONG_TYPE", "signature must be a byte string", "signature");
  }
  const header = checkProtectedHeader(protectedBytes);
  if (!header.ok) return header;
  if (unprotected.size !== 0) return fail("E_EXTRA_FIELD", "unprotected header must be empty", "unprotected");
  if (signature.length !== SIGNATURE_BYTES) {
    return fail("E_BAD_SIGNATURE", `signature must be ${SIGNATURE_BYTES} bytes`, "signature");
  }
  return ok({ protectedBytes, payload, signature });
}

function checkProtectedHeader(bytes: Uint8Array): Result<void> {
  // RFC 9052 §3: a zero-length protected bstr means "no protected headers", so no alg.
  if (bytes.length === 0) return fail("E_BAD_ALGORITHM", "protected header has no alg", "protected");
  const decoded = decodeCbor(bytes);
  if (!decoded.ok) return decoded;
  const header = decoded.value;
  if (!(header instanceof Map)) return fail("E_WRONG_TYPE", "protected header must be a map", "protected");
  let alg: unknown;
  for (const [key, value] of header) {
    if (asSafeInt(key) !== COSE_HEADER_ALG) {
      return fail("E_EXTRA_FIELD", `unexpected header parameter ${String(key)}`, "protected");
    }
    alg = value;
  }
  if (asSafeInt(alg) !== COSE_ALG_EDDSA) {
    return fail("E_BAD_ALGORITHM", "alg must be EdDSA (-8)", "protected");
  }
  return { ok: true, value: undefined };
}
