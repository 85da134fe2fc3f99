/**
 * Device side: what firmware does, with tweetnacl only. Must not import node:crypto
 * (directly or through its imports) so it stays a faithful model of an MCU; a test
 * walks the import graph to keep it that way. [PROTO-1]
 */
import nacl from "tweetnacl";
import { NONCE_BYTES, PUBLIC_KEY_BYTES } from "./constants.ts";
import {
  type ConnectCredentials,
  type ConnectProof,
  type ConnectProofOptions,
  openConnectProof,
  signConnectProof,
} from "./connect-proof.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "./cose-sign1.ts";
import { type Ed25519Verify, hasCanonicalS } from "./ed25519-rules.ts";
import { ProtocolError, type Result } from "./errors.ts";
import { bytesEqual, toHex } from "./hex.ts";
import { deviceIdFromPublicKey } from "./identity.ts";
import { checkGatewayKey, openEnrollReply, type ReplyExpectation } from "./open-reply.ts";
import { type DecodeRequestOptions, openEnrollRequest } from "./open-request.ts";
import { buildRequestPayload } from "./request-payload.ts";
import type { DeviceMetadata, EnrollReply, EnrollRequest } from "./types.ts";

export interface DeviceKeyPair {
  publicKey: Uint8Array;
  /** tweetnacl layout: 32-byte seed followed by the 32-byte public key. */
  secretKey: Uint8Array;
}

/** Random key pair, or the deterministic one for a 32-byte seed (RFC 8032 private key). */
export function generateDeviceKeyPair(seed?: Uint8Array): DeviceKeyPair {
  if (seed === undefined) return nacl.sign.keyPair();
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new ProtocolError("E_BAD_KEY", "seed must be 32 bytes", "seed");
  }
  return nacl.sign.keyPair.fromSeed(seed);
}

/** [PROTO-21] Fresh per attempt: 16 lowercase hex chars from 8 CSPRNG bytes. */
export function newRequestId(): string {
  return toHex(nacl.randomBytes(8));
}

/** [PROTO-21] Fresh 16-byte nonce per attempt. */
export function newNonce(): Uint8Array {
  return nacl.randomBytes(NONCE_BYTES);
}

export interface EncodeEnrollRequestInput {
  keyPair: DeviceKeyPair;
  requestId: string;
  nonce: Uint8Array;
  timestamp: number;
  metadata: DeviceMetadata;
}

/**
 * Signed enroll request frame (COSE_Sign1). Deterministic for fixed inputs because
 * Ed25519 is. Throws ProtocolError for invalid input (a caller bug, not a wire error).
 * [PROTO-14] [PROTO-15] [PROTO-17]
 */
export function encodeEnrollRequest(input: EncodeEnrollRequestInput): Uint8Array {
  const { keyPair } = input;
  checkKeyPair(keyPair);
  const payload = buildRequestPayload({
    requestId: input.requestId,
    publicKey: keyPair.publicKey,
    nonce: input.nonce,
    timestamp: input.timestamp,
    metadata: input.metadata,
  });
  const signature = nacl.sign.detached(sigStructure(EDDSA_PROTECTED_HEADER, payload), keyPair.secretKey);
  return encodeSign1(EDDSA_PROTECTED_HEADER, payload, signature);
}

export interface EncodeConnectProofInput {
  keyPair: DeviceKeyPair;
  nonce: Uint8Array;
  timestamp: number;
}

function checkKeyPair(keyPair: DeviceKeyPair): void {
  if (
    !(keyPair?.publicKey instanceof Uint8Array) ||
    !(keyPair.secretKey instanceof Uint8Array) ||
    keyPair.publicKey.length !== PUBLIC_KEY_BYTES ||
    keyPair.secretKey.length !== 64 ||
    !bytesEqual(keyPair.secretKey.subarray(32), keyPair.publicKey)
  ) {
    throw new ProtocolError("E_BAD_KEY", "keyPair must be a tweetnacl sign key pair", "keyPair");
  }
}

/**
 * [PROTO-37] [PROTO-38] The MQTT CONNECT password: a proof of key possession for the client
 * id deviceIdFromPublicKey(publicKey), with a fresh nonce (PROTO-21) and the device clock.
 * Use a new nonce for every CONNECT. Throws ProtocolError for invalid input.
 */
export function encodeConnectProof(input: EncodeConnectProofInput): Uint8Array {
  const { keyPair } = input;
  checkKeyPair(keyPair);
  return signConnectProof(
    {
      clientId: deviceIdFromPublicKey(keyPair.publicKey),
      publicKey: keyPair.publicKey,
      nonce: input.nonce,
      timestamp: input.timestamp,
    },
    (message) => nacl.sign.detached(message, keyPair.secretKey),
  );
}

/** The gateway's CONNECT proof check with tweetnacl: the second implementation for vectors. */
export function decodeConnectProofWithNacl(
  creds: ConnectCredentials,
  opts?: ConnectProofOptions,
): Result<ConnectProof> {
  return openConnectProof(creds, opts, { verify: naclVerify, deviceIdOf: deviceIdFromPublicKey });
}

/** tweetnacl verify; S < L is checked by the caller (tweetnacl does not). */
export const naclVerify: Ed25519Verify = (message, signature, publicKey) =>
  hasCanonicalS(signature) && nacl.sign.detached.verify(message, signature, publicKey);

/**
 * Device check of a gateway reply against the pinned gateway key. Pass `expect` to also
 * require the reply to be for this device and request. Never throws. [PROTO-29]
 */
export function verifyEnrollReply(
  frame: Uint8Array,
  gatewayPublicKey: Uint8Array,
  expect?: ReplyExpectation,
): Result<EnrollReply> {
  const key = checkGatewayKey(gatewayPublicKey);
  if (!key.ok) return key;
  return openEnrollReply(frame, key.value, naclVerify, expect);
}

/**
 * The gateway's request check done with tweetnacl instead of libsodium. Not used in
 * production; the shared vectors and the fuzzer check the gateway against it.
 */
export function decodeEnrollRequestWithNacl(
  frame: Uint8Array,
  opts?: DecodeRequestOptions,
): Result<EnrollRequest> {
  return openEnrollRequest(frame, opts, { verify: naclVerify, deviceIdOf: deviceIdFromPublicKey });
}
