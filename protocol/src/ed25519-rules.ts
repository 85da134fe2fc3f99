import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./constants.ts";

/**
 * Ed25519 acceptance rules both implementations apply before calling their library,
 * so tweetnacl (device) and node:crypto (gateway) accept exactly the same signatures.
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

export function isSmallOrderKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return SMALL_ORDER.some((bad) => {
    let diff = (publicKey[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) diff |= publicKey[i]! ^ bad[i]!;
    return diff === 0;
  });
}

/** A raw Ed25519 verify: (message, signature, publicKey) -> valid. */
export type Ed25519Verify = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) => boolean;
