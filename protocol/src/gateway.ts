/**
 * Gateway side, on node:crypto's Ed25519 (OpenSSL): an implementation independent of the
 * device's tweetnacl. Device keys are imported per call; nothing is cached per device,
 * so memory does not grow with the fleet.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerifyRaw,
} from "node:crypto";
import { PUBLIC_KEY_BYTES } from "./constants.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "./cose-sign1.ts";
import { type Ed25519Verify, hasCanonicalS } from "./ed25519-rules.ts";
import { ProtocolError, type Result } from "./errors.ts";
import { checkGatewayKey, openEnrollReply, type ReplyExpectation } from "./open-reply.ts";
import { type DecodeRequestOptions, openEnrollRequest } from "./open-request.ts";
import { buildReplyPayload, validateEnrollReply } from "./reply-payload.ts";
import { buildRequestPayload } from "./request-payload.ts";
import type { EnrollReply, EnrollRequest } from "./types.ts";

/** SubjectPublicKeyInfo for Ed25519 (RFC 8410) up to the 32 key bytes. */
const SPKI_PREFIX_LENGTH = 12;
/** PKCS#8 OneAsymmetricKey for Ed25519 up to the 32 seed bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * JWK, not SPKI DER: OpenSSL 3's generic DER decoder makes the DER import about 10x slower,
 * and the key import is half the per-request cost.
 */
function publicKeyObject(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

/** node:crypto verify; false (never a throw) for keys OpenSSL cannot decode. */
export const nodeVerify: Ed25519Verify = (message, signature, publicKey) => {
  if (!hasCanonicalS(signature) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return nodeVerifyRaw(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
};

/** [PROTO-2] The same deviceId rule computed with node:crypto's SHA-512. */
export function nodeDeviceId(publicKey: Uint8Array): string {
  return createHash("sha512").update(publicKey).digest().subarray(0, 16).toString("hex");
}

/**
 * Strict decode + signature + clock skew check of an enroll request (not replay: see
 * ReplayGuard). Never throws; every failure is a typed ProtocolError. [PROTO-24]
 */
export function decodeEnrollRequest(frame: Uint8Array, opts?: DecodeRequestOptions): Result<EnrollRequest> {
  return openEnrollRequest(frame, opts, { verify: nodeVerify, deviceIdOf: nodeDeviceId });
}

export interface GatewaySigner {
  publicKey: Uint8Array;
  /** The complete signed reply frame. */
  sign(reply: EnrollReply): Uint8Array;
}

export interface NodeGatewaySigner extends GatewaySigner {
  /** PKCS#8 PEM, so a generated key can be persisted. */
  privateKeyPem: string;
  /** Raw Ed25519 signature over arbitrary bytes (test-vector tooling). */
  signBytes(data: Uint8Array): Uint8Array;
}

/**
 * Gateway reply signer from a PKCS#8 PEM, a 32-byte seed, or a fresh key when absent.
 * Throws ProtocolError E_BAD_KEY for a key that is not Ed25519 (configuration error).
 */
export function createGatewaySigner(privateKey?: string | Uint8Array): NodeGatewaySigner {
  let key: KeyObject;
  try {
    if (privateKey === undefined) key = generateKeyPairSync("ed25519").privateKey;
    else if (typeof privateKey === "string") key = createPrivateKey(privateKey);
    else if (privateKey instanceof Uint8Array && privateKey.length === 32) {
      key = createPrivateKey({
        key: Buffer.concat([PKCS8_PREFIX, privateKey]),
        format: "der",
        type: "pkcs8",
      });
    } else throw new Error("expected a PEM string or a 32-byte seed");
  } catch (e) {
    throw new ProtocolError(
      "E_BAD_KEY",
      `gateway key: ${e instanceof Error ? e.message : String(e)}`,
      "privateKey",
    );
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ProtocolError(
      "E_BAD_KEY",
      `gateway key must be Ed25519, not ${key.asymmetricKeyType}`,
      "privateKey",
    );
  }
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX_LENGTH));
  const signBytes = (data: Uint8Array): Uint8Array => new Uint8Array(nodeSign(null, data, key));
  return {
    publicKey,
    privateKeyPem: key.export({ format: "pem", type: "pkcs8" }).toString(),
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
  if (
    !(keyPair?.publicKey instanceof Uint8Array) ||
    !(keyPair.secretKey instanceof Uint8Array) ||
    keyPair.publicKey.length !== PUBLIC_KEY_BYTES ||
    keyPair.secretKey.length !== 64
  ) {
    throw new ProtocolError("E_BAD_KEY", "keyPair must be a tweetnacl-layout sign key pair", "keyPair");
  }
  const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
  const key = createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", d: b64u(keyPair.secretKey.subarray(0, 32)), x: b64u(keyPair.publicKey) },
    format: "jwk",
  });
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

/** The device's reply check with node:crypto: the second implementation for vectors. */
export function verifyEnrollReplyWithNode(
  frame: Uint8Array,
  gatewayPublicKey: Uint8Array,
  expect?: ReplyExpectation,
): Result<EnrollReply> {
  const key = checkGatewayKey(gatewayPublicKey);
  if (!key.ok) return key;
  return openEnrollReply(frame, key.value, nodeVerify, expect);
}
