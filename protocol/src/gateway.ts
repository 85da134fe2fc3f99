/**
 * Gateway side, on libsodium (sodium-native): an Ed25519 implementation independent of the
 * device's tweetnacl, and cheaper than node:crypto: no key object to import per call, a
 * verify in under half the CPU and a sign in about half (bench/ed25519.bench.ts). Device keys
 * are used as raw bytes; nothing is cached per device, so memory does not grow with the fleet.
 *
 * node:crypto (OpenSSL) stays for what is not per enrollment (parsing and exporting the
 * gateway's PKCS#8 key, SHA-512 for the deviceId) and for the simulated devices below
 * (`*WithNode`), which must not share the gateway's library.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerifyRaw,
} from "node:crypto";
import { createRequire } from "node:module";
import type Sodium from "sodium-native";
import {
  type ConnectCredentials,
  type ConnectProof,
  type ConnectProofOptions,
  openConnectProof,
  signConnectProof,
} from "./connect-proof.ts";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./constants.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "./cose-sign1.ts";
import { type Ed25519Verify, hasCanonicalS } from "./ed25519-rules.ts";
import { ProtocolError, type Result } from "./errors.ts";
import { checkGatewayKey, openEnrollReply, type ReplyExpectation } from "./open-reply.ts";
import { type DecodeRequestOptions, openEnrollRequest } from "./open-request.ts";
import { buildReplyPayload, validateEnrollReply } from "./reply-payload.ts";
import { buildRequestPayload } from "./request-payload.ts";
import type { EnrollReply, EnrollRequest } from "./types.ts";

const load = createRequire(import.meta.url);
let loaded: typeof Sodium | undefined;
/**
 * libsodium, loaded on the gateway's first use, not when @devreg/protocol is imported: device
 * code (firmware-sim, `devreg sim`) must not need the native addon, which ships prebuilt for
 * x64 and arm64 only (no 32-bit ARM, no musl).
 */
function sodium(): typeof Sodium {
  loaded ??= load("sodium-native") as typeof Sodium;
  return loaded;
}

/** PKCS#8 OneAsymmetricKey for Ed25519 up to the 32 seed bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SEED_BYTES = 32;
const SECRET_KEY_BYTES = 64;

/**
 * The gateway's verify: libsodium's crypto_sign_verify_detached. Like OpenSSL and tweetnacl
 * it checks the cofactorless equation and compares R by its bytes (a signature whose R is off
 * by a small-order point is refused), and it refuses S >= L. Beyond OpenSSL it refuses a
 * public key of small order or with a non-canonical encoding (y >= p), and an R of small
 * order. The gateway's checks refuse small-order keys (E_BAD_KEY) and small-order R
 * (E_BAD_SIGNATURE) before they get here, whatever the library [PROTO-20]; no signature
 * verifies under a non-canonical key in any of the three (no one knows its discrete log). So
 * the only signatures libsodium refuses that OpenSSL accepts are ones only the key's owner
 * could make, by signing with the nonce r = 0; an honest tweetnacl or OpenSSL signature
 * always verifies. Vectors req-small-order-r, req-torsion-r and req-non-canonical-key pin
 * this: libsodium's rules have changed between releases (some check the cofactored
 * equation), so a sodium-native upgrade that changes them fails the tests.
 */
export const sodiumVerify: Ed25519Verify = (message, signature, publicKey) =>
  hasCanonicalS(signature) &&
  publicKey.length === PUBLIC_KEY_BYTES &&
  sodium().crypto_sign_verify_detached(signature, message, publicKey);

/**
 * JWK, not SPKI DER: OpenSSL 3's generic DER decoder makes the DER import about 10x slower,
 * and the key import is half the per-request cost.
 */
function publicKeyObject(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

/**
 * node:crypto (OpenSSL) verify, for the simulated devices' reply check and for tests that
 * hold the gateway to OpenSSL's answers; false (never a throw) for keys OpenSSL cannot decode.
 */
export const opensslVerify: Ed25519Verify = (message, signature, publicKey) => {
  if (!hasCanonicalS(signature) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return nodeVerifyRaw(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
};

/**
 * [PROTO-2] The same deviceId rule computed with node:crypto's SHA-512. libsodium's would
 * save about 1.7 µs a call (2.4 vs 0.6), under 0.2% of an enrollment: not worth a second path.
 */
export function nodeDeviceId(publicKey: Uint8Array): string {
  return createHash("sha512").update(publicKey).digest().subarray(0, 16).toString("hex");
}

/**
 * Strict decode + signature + clock skew check of an enroll request (not replay: see
 * ReplayGuard). Never throws; every failure is a typed ProtocolError. [PROTO-24]
 */
export function decodeEnrollRequest(frame: Uint8Array, opts?: DecodeRequestOptions): Result<EnrollRequest> {
  return openEnrollRequest(frame, opts, { verify: sodiumVerify, deviceIdOf: nodeDeviceId });
}

/**
 * [PROTO-39] The gateway's check of an MQTT CONNECT's credentials (username = client id,
 * password = connect proof): everything but replay, which the caller checks with its
 * ReplayGuard. Never throws.
 */
export function decodeConnectProof(
  creds: ConnectCredentials,
  opts?: ConnectProofOptions,
): Result<ConnectProof> {
  return openConnectProof(creds, opts, { verify: sodiumVerify, deviceIdOf: nodeDeviceId });
}

export interface GatewaySigner {
  publicKey: Uint8Array;
  /** The complete signed reply frame. */
  sign(reply: EnrollReply): Uint8Array;
}

/** The signer of createGatewaySigner, which holds its key in this process. */
export interface LocalGatewaySigner extends GatewaySigner {
  /**
   * PKCS#8 PEM, so a generated key can be persisted. Built on each read and not enumerable,
   * so logging or serialising the signer never shows it.
   */
  readonly privateKeyPem: string;
  /** Raw Ed25519 signature over arbitrary bytes (test-vector tooling). */
  signBytes(data: Uint8Array): Uint8Array;
}

function badKey(message: string): ProtocolError {
  return new ProtocolError("E_BAD_KEY", `gateway key: ${message}`, "privateKey");
}

/** The 32-byte Ed25519 seed (RFC 8032 private key) of a PKCS#8 PEM, through node:crypto once. */
function seedFromPem(pem: string): Uint8Array {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw badKey(e instanceof Error ? e.message : String(e));
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ProtocolError(
      "E_BAD_KEY",
      `gateway key must be Ed25519, not ${key.asymmetricKeyType}`,
      "privateKey",
    );
  }
  const { d } = key.export({ format: "jwk" });
  if (typeof d !== "string") throw badKey("the PEM holds no private key");
  return Buffer.from(d, "base64url"); // wiped by the caller once the key pair is derived
}

/**
 * Gateway reply signer from a PKCS#8 PEM, a 32-byte seed, or a fresh key when absent.
 * Throws ProtocolError E_BAD_KEY for a key that is not Ed25519 (configuration error).
 * Signs with libsodium: byte-identical to node:crypto's signatures (Ed25519 is deterministic).
 */
export function createGatewaySigner(privateKey?: string | Uint8Array): LocalGatewaySigner {
  let seed: Uint8Array | undefined;
  if (typeof privateKey === "string") seed = seedFromPem(privateKey);
  else if (privateKey instanceof Uint8Array && privateKey.length === SEED_BYTES) seed = privateKey;
  else if (privateKey !== undefined) throw badKey("expected a PEM string or a 32-byte seed");
  // sodium_malloc: the seed||publicKey secret key lives outside the V8 heap (so in no heap
  // snapshot), in pages left out of core dumps, fenced by guard pages and mlock'd where the
  // memlock limit allows; read-only after this, and wiped by libsodium when freed.
  const na = sodium();
  const secretKey = na.sodium_malloc(SECRET_KEY_BYTES);
  const publicKey = new Uint8Array(PUBLIC_KEY_BYTES);
  if (seed === undefined) na.crypto_sign_keypair(publicKey, secretKey);
  else {
    na.crypto_sign_seed_keypair(publicKey, secretKey, seed);
    if (seed !== privateKey) na.sodium_memzero(seed); // the PEM's, not the caller's seed
  }
  na.sodium_mprotect_readonly(secretKey);
  const signBytes = (data: Uint8Array): Uint8Array => {
    const signature = new Uint8Array(SIGNATURE_BYTES);
    na.crypto_sign_detached(signature, data, secretKey);
    return signature;
  };
  const signer = {
    publicKey,
    signBytes,
    sign(reply: EnrollReply): Uint8Array {
      const payload = buildReplyPayload(reply);
      return encodeSign1(
        EDDSA_PROTECTED_HEADER,
        payload,
        signBytes(sigStructure(EDDSA_PROTECTED_HEADER, payload)),
      );
    },
  };
  const privateKeyPem = (): string => {
    const der = Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, SEED_BYTES)]);
    try {
      return createPrivateKey({ key: der, format: "der", type: "pkcs8" })
        .export({ format: "pem", type: "pkcs8" })
        .toString();
    } finally {
      na.sodium_memzero(der);
    }
  };
  return Object.defineProperty(signer, "privateKeyPem", {
    enumerable: false,
    get: privateKeyPem,
  }) as LocalGatewaySigner;
}

/** node:crypto private key from a tweetnacl-layout key pair; throws E_BAD_KEY for a bad one. */
function nodeSigningKey(keyPair: { publicKey: Uint8Array; secretKey: Uint8Array }): KeyObject {
  if (
    !(keyPair?.publicKey instanceof Uint8Array) ||
    !(keyPair.secretKey instanceof Uint8Array) ||
    keyPair.publicKey.length !== PUBLIC_KEY_BYTES ||
    keyPair.secretKey.length !== 64
  ) {
    throw new ProtocolError("E_BAD_KEY", "keyPair must be a tweetnacl-layout sign key pair", "keyPair");
  }
  const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
  return createPrivateKey({
    key: {
      kty: "OKP",
      crv: "Ed25519",
      d: b64u(keyPair.secretKey.subarray(0, 32)),
      x: b64u(keyPair.publicKey),
    },
    format: "jwk",
  });
}

/**
 * The enroll request of `encodeEnrollRequest`, signed with node:crypto instead of tweetnacl:
 * byte-identical output (Ed25519 is deterministic), about 30x cheaper. For fleets and
 * benchmarks that simulate thousands of devices on one host. [PROTO-14] [PROTO-17]
 */
export function encodeEnrollRequestWithNode(input: {
  keyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  requestId: string;
  nonce: Uint8Array;
  timestamp: number;
  metadata: EnrollRequest["metadata"];
}): Uint8Array {
  const { keyPair } = input;
  const key = nodeSigningKey(keyPair);
  const payload = buildRequestPayload({
    requestId: input.requestId,
    publicKey: keyPair.publicKey,
    nonce: input.nonce,
    timestamp: input.timestamp,
    metadata: input.metadata,
  });
  const signature = new Uint8Array(nodeSign(null, sigStructure(EDDSA_PROTECTED_HEADER, payload), key));
  return encodeSign1(EDDSA_PROTECTED_HEADER, payload, signature);
}

/**
 * The CONNECT proof of `encodeConnectProof`, signed with node:crypto: byte-identical, for
 * fleets and benchmarks. [PROTO-37] [PROTO-38]
 */
export function encodeConnectProofWithNode(input: {
  keyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  nonce: Uint8Array;
  timestamp: number;
}): Uint8Array {
  const key = nodeSigningKey(input.keyPair);
  return signConnectProof(
    {
      clientId: nodeDeviceId(input.keyPair.publicKey),
      publicKey: input.keyPair.publicKey,
      nonce: input.nonce,
      timestamp: input.timestamp,
    },
    (message) => new Uint8Array(nodeSign(null, message, key)),
  );
}

/**
 * Signed reply frame; the same as signer.sign(reply). Throws ProtocolError if the reply
 * breaks SPEC §8 (e.g. "approved" without deviceUUID); `message` is truncated, not
 * rejected. [PROTO-25] [PROTO-26] [PROTO-30]
 */
export function encodeEnrollReply(reply: EnrollReply, signer: GatewaySigner): Uint8Array {
  // Validate here too: a custom GatewaySigner may not.
  const valid = validateEnrollReply(reply);
  if (!valid.ok) throw valid.error;
  return signer.sign(reply);
}

/** Reply fields without any signature check, for tools and logs. Never throws. */
export function decodeEnrollReplyUnverified(frame: Uint8Array): Result<EnrollReply> {
  return openEnrollReply(frame, null, null);
}

/**
 * The device's reply check with node:crypto (OpenSSL): the simulated devices' fast path and
 * the second implementation for vectors, apart from both tweetnacl and the gateway's libsodium.
 */
export function verifyEnrollReplyWithNode(
  frame: Uint8Array,
  gatewayPublicKey: Uint8Array,
  expect?: ReplyExpectation,
): Result<EnrollReply> {
  const key = checkGatewayKey(gatewayPublicKey);
  if (!key.ok) return key;
  return openEnrollReply(frame, key.value, opensslVerify, expect);
}
