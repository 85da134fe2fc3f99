/**
 * The device's Ed25519 work behind one interface with two backends. Ed25519 is
 * deterministic, so both produce the same bytes for the same inputs (a test checks it):
 * - "tweetnacl": pure JS, as an MCU library would do it; the default for one device.
 * - "node": node:crypto (OpenSSL), ~50x faster; what a fleet of thousands needs on 2 cores.
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import {
  type DeviceKeyPair,
  type EncodeConnectProofInput,
  type EncodeEnrollRequestInput,
  type EnrollReply,
  encodeConnectProof,
  encodeConnectProofWithNode,
  encodeEnrollRequest,
  encodeEnrollRequestWithNode,
  generateDeviceKeyPair,
  type ReplyExpectation,
  type Result,
  verifyEnrollReply,
  verifyEnrollReplyWithNode,
} from "@devreg/protocol";
import nacl from "tweetnacl";
import { SimError } from "./errors.ts";

export type CryptoBackendName = "tweetnacl" | "node";
export const CRYPTO_BACKENDS: readonly CryptoBackendName[] = ["tweetnacl", "node"];

export interface DeviceCrypto {
  readonly name: CryptoBackendName;
  randomSeed(): Uint8Array;
  /** The key pair for a 32-byte seed, in tweetnacl layout (secretKey = seed || publicKey). */
  keyPairFromSeed(seed: Uint8Array): DeviceKeyPair;
  /** The signed enroll request frame. */
  encodeRequest(input: EncodeEnrollRequestInput): Uint8Array;
  /** [PROTO-37] The MQTT CONNECT password: a connect proof. */
  encodeConnectProof(input: EncodeConnectProofInput): Uint8Array;
  /** Reply checked against the pinned gateway key; never throws. */
  verifyReply(
    frame: Uint8Array,
    gatewayPublicKey: Uint8Array,
    expect?: ReplyExpectation,
  ): Result<EnrollReply>;
}

export const tweetnaclCrypto: DeviceCrypto = {
  name: "tweetnacl",
  randomSeed: () => nacl.randomBytes(32),
  keyPairFromSeed: (seed) => generateDeviceKeyPair(seed),
  encodeRequest: (input) => encodeEnrollRequest(input),
  encodeConnectProof: (input) => encodeConnectProof(input),
  verifyReply: (frame, key, expect) => verifyEnrollReply(frame, key, expect),
};

/** PKCS#8 (RFC 8410) Ed25519 private key DER up to the 32 seed bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const PLACEHOLDER_X = Buffer.alloc(32).toString("base64url");

function seedKeyObject(seed: Uint8Array): KeyObject {
  // JWK import is ~10x cheaper than PKCS#8 DER under OpenSSL 3 (no decoder lookup), which
  // matters when a fleet loads 10 000 keys. Node derives the public half from "d" and does
  // not check "x" (a test pins the result to tweetnacl's); PKCS#8 is the fallback if a
  // future Node does check it.
  const d = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString("base64url");
  try {
    return createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d, x: PLACEHOLDER_X }, format: "jwk" });
  } catch {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  }
}

function nodePublicKey(seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new SimError("E_BAD_OPTION", "seed must be 32 bytes");
  }
  const x = createPublicKey(seedKeyObject(seed)).export({ format: "jwk" }).x;
  return new Uint8Array(Buffer.from(x ?? "", "base64url"));
}

export const nodeCrypto: DeviceCrypto = {
  name: "node",
  randomSeed: () => new Uint8Array(randomBytes(32)),
  keyPairFromSeed(seed) {
    const publicKey = nodePublicKey(seed);
    const secretKey = new Uint8Array(64);
    secretKey.set(seed, 0);
    secretKey.set(publicKey, 32);
    return { publicKey, secretKey };
  },
  // Same bytes as tweetnacl's (Ed25519 is deterministic); about 30x cheaper per signature.
  encodeRequest: (input) => encodeEnrollRequestWithNode(input),
  encodeConnectProof: (input) => encodeConnectProofWithNode(input),
  verifyReply: (frame, key, expect) => verifyEnrollReplyWithNode(frame, key, expect),
};

export function deviceCrypto(backend: CryptoBackendName | DeviceCrypto | undefined): DeviceCrypto {
  if (backend === undefined || backend === "tweetnacl") return tweetnaclCrypto;
  if (backend === "node") return nodeCrypto;
  if (typeof backend === "object" && backend !== null) return backend;
  throw new SimError("E_BAD_OPTION", `unknown crypto backend ${String(backend)} (use node or tweetnacl)`);
}
