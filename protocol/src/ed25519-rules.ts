import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./constants.ts";

/**
 * Ed25519 acceptance rules every implementation applies before calling its library, so
 * tweetnacl (device), libsodium (gateway) and node:crypto (OpenSSL, the simulated devices'
 * reply check) accept exactly the same signatures. All three check the cofactorless
 * equation [S]B = R + [k]A and compare R by its bytes; they differ only in what they refuse
 * beforehand, which these rules even out (SPEC §15, "Ed25519 library differences").
 */

/** Group order L, little-endian, as in RFC 8032 §5.1. */
const L_LE = Uint8Array.of(
  0xed,
  0xd3,
  0xf5,
  0x5c,
  0x1a,
  0x63,
  0x12,
  0x58,
  0xd6,
  0x9c,
  0xf7,
  0xa2,
  0xde,
  0xf9,
  0xde,
  0x14,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x10,
);

/**
 * [PROTO-16] RFC 8032 §5.1.7 requires S < L. OpenSSL enforces it; tweetnacl does not,
 * so without this check a malleated signature (S + L) would split the implementations.
 */
export function hasCanonicalS(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!;
    const l = L_LE[i]!;
    if (s < l) return true;
    if (s > l) return false;
  }
  return false; // S == L
}

/**
 * Encodings (sign bit ignored) of the points of order 1, 2, 4 and 8, including the
 * non-canonical y >= p forms; the libsodium blocklist. A key of small order can make a
 * signature verify for many messages, which would void proof of possession. [PROTO-20]
 */
const SMALL_ORDER: readonly Uint8Array[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((h) => Uint8Array.from(h.match(/../g)!, (x) => Number.parseInt(x, 16)));

function isSmallOrderPoint(encoding: Uint8Array): boolean {
  if (encoding.length !== PUBLIC_KEY_BYTES) return false;
  return SMALL_ORDER.some((bad) => {
    let diff = (encoding[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) diff |= encoding[i]! ^ bad[i]!;
    return diff === 0;
  });
}

export function isSmallOrderKey(publicKey: Uint8Array): boolean {
  return isSmallOrderPoint(publicKey);
}

/**
 * [PROTO-20] A signature whose R (bytes 0-31) is a small-order point. With an honest key it
 * verifies only if the signer's nonce r is 0 mod L (R the identity, S = k·a), which RFC 8032's
 * deterministic nonce never yields: only the key owner, signing in a non-standard way, makes
 * one. libsodium refuses it, tweetnacl and OpenSSL accept it; the gateway's checks (request,
 * CONNECT proof) refuse it whatever the library, so all gateway implementations agree.
 */
export function hasSmallOrderR(signature: Uint8Array): boolean {
  return signature.length === SIGNATURE_BYTES && isSmallOrderPoint(signature.subarray(0, 32));
}

/** A raw Ed25519 verify: (message, signature, publicKey) -> valid. */
export type Ed25519Verify = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) => boolean;
