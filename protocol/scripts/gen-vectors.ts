/**
 * Writes protocol/vectors/*.json from fixed seeds, nonces and timestamps.
 * Run: `npm run gen-vectors -w @devreg/protocol` (or `tsx scripts/gen-vectors.ts` in protocol/).
 * Output is byte-for-byte reproducible; tests re-check the committed files and never run this.
 * Device frames are signed with tweetnacl, gateway frames with libsodium (the gateway's signer),
 * and the few signatures no conforming signer makes with scripts/ed25519-craft.ts.
 */
import { writeFileSync } from "node:fs";
import nacl from "tweetnacl";
import { cborHead, concatBytes } from "../src/cbor-codec.ts";
import { EDDSA_PROTECTED_HEADER, parseSign1, type Sign1Parts, sigStructure } from "../src/cose-sign1.ts";
import { connectProofText } from "../src/connect-proof.ts";
import { encodeConnectProof, generateDeviceKeyPair } from "../src/device.ts";
import { isSmallOrderKey } from "../src/ed25519-rules.ts";
import { createGatewaySigner } from "../src/gateway.ts";
import { fromHex, toHex } from "../src/hex.ts";
import { IDENTITY_R, isOnCurve, signWithR, torsionR } from "./ed25519-craft.ts";
import {
  deviceIdFromPublicKey,
  type EnrollReply,
  encodeEnrollRequest,
  type ProtocolErrorCode,
  registrationName,
  replyTopic,
  requestTopic,
} from "../src/index.ts";

const OUT = new URL("../vectors/", import.meta.url);

// RFC 8032 §7.1 TEST 1 and TEST 3 seeds for devices, TEST 2 for the gateway, so an
// implementer can first check their Ed25519 public keys against the RFC.
const DEVICE_A_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const DEVICE_B_SEED = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";
const DEVICE_C_SEED = "0101010101010101010101010101010101010101010101010101010101010101";
const GATEWAY_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const OTHER_GATEWAY_SEED = "0202020202020202020202020202020202020202020202020202020202020202";
const NOW = 1_700_000_000;
const NONCE = "000102030405060708090a0b0c0d0e0f";

const deviceA = generateDeviceKeyPair(fromHex(DEVICE_A_SEED));
const deviceB = generateDeviceKeyPair(fromHex(DEVICE_B_SEED));
const gateway = createGatewaySigner(fromHex(GATEWAY_SEED));
const otherGateway = createGatewaySigner(fromHex(OTHER_GATEWAY_SEED));
const deviceAId = deviceIdFromPublicKey(deviceA.publicKey);

// ---- tiny raw CBOR writer, for frames cbor-x would refuse to produce ----
const uint = (n: number) => cborHead(0, n);
const nint = (n: number) => cborHead(1, -1 - n);
const bstr = (b: Uint8Array) => concatBytes(cborHead(2, b.length), b);
const tstr = (s: string) => {
  const b = new TextEncoder().encode(s);
  return concatBytes(cborHead(3, b.length), b);
};
type Entry = [Uint8Array, Uint8Array];
const map = (entries: Entry[]) => concatBytes(cborHead(5, entries.length), ...entries.flat());
const indefiniteMap = (entries: Entry[]) =>
  concatBytes(Uint8Array.of(0xbf), ...entries.flat(), Uint8Array.of(0xff));
const float64 = (n: number) => {
  const b = new Uint8Array(9);
  b[0] = 0xfb;
  new DataView(b.buffer).setFloat64(1, n);
  return b;
};
/** 18([protected, {}, payload, signature]) from already-encoded parts. */
const sign1Raw = (prot: Uint8Array, unprot: Uint8Array, payload: Uint8Array, sig: Uint8Array) =>
  concatBytes(Uint8Array.of(0xd2, 0x84), bstr(prot), unprot, bstr(payload), bstr(sig));

function deviceSigned(
  payload: Uint8Array,
  secretKey = deviceA.secretKey,
  prot = EDDSA_PROTECTED_HEADER,
): Uint8Array {
  const sig = nacl.sign.detached(sigStructure(prot, payload), secretKey);
  return sign1Raw(prot, Uint8Array.of(0xa0), payload, sig);
}

function gatewaySigned(payload: Uint8Array): Uint8Array {
  const sig = gateway.signBytes(sigStructure(EDDSA_PROTECTED_HEADER, payload));
  return sign1Raw(EDDSA_PROTECTED_HEADER, Uint8Array.of(0xa0), payload, sig);
}

/** Request payload entries in key order; negative vectors edit a copy. */
function requestEntries(publicKey = deviceA.publicKey, timestamp = NOW): Entry[] {
  return [
    [uint(1), uint(1)],
    [uint(2), uint(1)],
    [uint(3), tstr("neg0000000000001")],
    [uint(4), bstr(publicKey)],
    [uint(5), bstr(fromHex(NONCE))],
    [uint(6), uint(timestamp)],
    [uint(7), tstr("devreg-sim")],
    [uint(8), tstr("1.0.0")],
  ];
}

function replyEntries(): Entry[] {
  return [
    [uint(1), uint(1)],
    [uint(2), uint(2)],
    [uint(3), tstr("neg0000000000001")],
    [uint(4), tstr(deviceAId)],
    [uint(5), uint(0)],
    [uint(6), uint(NOW + 1)],
    [uint(7), tstr("6f1c2a8e-4b7d-4e2a-9c3f-0a1b2c3d4e5f")],
  ];
}

const withValue = (entries: Entry[], key: number, value: Uint8Array): Entry[] =>
  entries.map(([k, v]) => [k, k.length === 1 && k[0] === key ? value : v]);
const without = (entries: Entry[], key: number): Entry[] =>
  entries.filter(([k]) => !(k.length === 1 && k[0] === key));

function flipBit(frame: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = frame.slice();
  out[index]! ^= 1 << bit;
  return out;
}

/** S + L: same point equation, non-canonical scalar. */
function malleate(frame: Uint8Array): Uint8Array {
  const L = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  const out = frame.slice();
  const s = out.length - 32;
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const sum = out[s + i]! + L[i]! + carry;
    out[s + i] = sum & 0xff;
    carry = sum >> 8;
  }
  return out;
}

/** Device A's payload under a signature with the R of `nonce` (see ed25519-craft.ts). */
function deviceSignedWithR(payload: Uint8Array, nonce: { r: bigint; R: Uint8Array }): Uint8Array {
  const sig = signWithR(
    fromHex(DEVICE_A_SEED),
    deviceA.publicKey,
    sigStructure(EDDSA_PROTECTED_HEADER, payload),
    nonce,
  );
  return sign1Raw(EDDSA_PROTECTED_HEADER, Uint8Array.of(0xa0), payload, sig);
}

/** y = p + 3: a non-canonical encoding of a curve point that is not of small order. */
const NON_CANONICAL_KEY = fromHex(`f0${"ff".repeat(30)}7f`);
if (!isOnCurve(NON_CANONICAL_KEY) || isSmallOrderKey(NON_CANONICAL_KEY))
  throw new Error("NON_CANONICAL_KEY must be a curve point outside the small-order list");

// ---------------------------------------------------------------- requests
interface RequestCase {
  name: string;
  description: string;
  seed: string;
  requestId: string;
  nonce: string;
  timestamp: number;
  metadata: { model: string; firmwareVersion: string; hardwareRevision?: string; serialNumber?: string };
}

const requestCases: RequestCase[] = [
  {
    name: "minimal",
    description: "Required fields only. Device key is RFC 8032 TEST 1.",
    seed: DEVICE_A_SEED,
    requestId: "0123456789abcdef",
    nonce: NONCE,
    timestamp: NOW,
    metadata: { model: "devreg-sim", firmwareVersion: "1.0.0" },
  },
  {
    name: "full-metadata",
    description: "All optional metadata present. Device key is RFC 8032 TEST 3.",
    seed: DEVICE_B_SEED,
    requestId: "a1b2c3d4e5f60718",
    nonce: "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    timestamp: NOW + 42,
    metadata: {
      model: "acme-thermo-2",
      firmwareVersion: "2.4.1+build.7",
      hardwareRevision: "rev-B",
      serialNumber: "SN-000042",
    },
  },
  {
    name: "max-lengths",
    description:
      "Every field at its maximum length and a timestamp past 2^32-1 (uint64 head): the largest valid request, for sizing device buffers.",
    seed: DEVICE_C_SEED,
    requestId: "Z".repeat(18) + "-_".repeat(9),
    nonce: "ffffffffffffffffffffffffffffffff",
    timestamp: 4_294_967_296,
    metadata: {
      model: "M".repeat(64),
      firmwareVersion: "9".repeat(32),
      hardwareRevision: "H".repeat(32),
      serialNumber: "S~ ".repeat(21) + "S",
    },
  },
];

const requests = requestCases.map((c) => {
  const keyPair = generateDeviceKeyPair(fromHex(c.seed));
  const frame = encodeEnrollRequest({
    keyPair,
    requestId: c.requestId,
    nonce: fromHex(c.nonce),
    timestamp: c.timestamp,
    metadata: c.metadata,
  });
  const { payload } = parts(frame);
  const sigInput = sigStructure(EDDSA_PROTECTED_HEADER, payload);
  const deviceId = deviceIdFromPublicKey(keyPair.publicKey);
  return {
    name: c.name,
    description: c.description,
    seed: c.seed,
    publicKey: toHex(keyPair.publicKey),
    deviceId,
    registrationName: registrationName(keyPair.publicKey),
    requestTopic: requestTopic(deviceId),
    replyTopic: replyTopic(deviceId),
    requestId: c.requestId,
    nonce: c.nonce,
    timestamp: c.timestamp,
    metadata: c.metadata,
    protectedHeader: toHex(EDDSA_PROTECTED_HEADER),
    payload: toHex(payload),
    sigStructure: toHex(sigInput),
    signature: toHex(frame.subarray(frame.length - 64)),
    frame: toHex(frame),
    frameLength: frame.length,
  };
});

function parts(frame: Uint8Array): Sign1Parts {
  const r = parseSign1(frame, Number.MAX_SAFE_INTEGER);
  if (!r.ok) throw r.error;
  return r.value;
}

/** payload, Sig_structure and signature of a signed frame, in hex. */
function signedFields(frame: Uint8Array): { payload: string; sigStructure: string; signature: string } {
  const { payload } = parts(frame);
  return {
    payload: toHex(payload),
    sigStructure: toHex(sigStructure(EDDSA_PROTECTED_HEADER, payload)),
    signature: toHex(frame.subarray(frame.length - 64)),
  };
}

// ---------------------------------------------------------------- replies
const UUID = "6f1c2a8e-4b7d-4e2a-9c3f-0a1b2c3d4e5f";
const replyCases: { name: string; description: string; reply: EnrollReply }[] = [
  {
    name: "approved",
    description: "Answer to request vector 'minimal'.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "approved",
      deviceUUID: UUID,
      timestamp: NOW + 1,
    },
  },
  {
    name: "approved-reenroll",
    description: "Same key enrolling again with a new request: same deviceUUID.",
    reply: {
      version: 1,
      requestId: "fedcba9876543210",
      deviceId: deviceAId,
      status: "approved",
      deviceUUID: UUID,
      reason: "AlreadyEnrolled",
      timestamp: NOW + 3600,
    },
  },
  {
    name: "rejected-pairing-disabled",
    description: "Pairing is switched off; device may try again after retryAfterSeconds.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "rejected",
      reason: "PairingDisabled",
      message: "pairing is disabled for this fleet",
      retryAfterSeconds: 600,
      timestamp: NOW + 1,
    },
  },
  {
    name: "pending",
    description: "Waiting for an operator decision.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "pending",
      reason: "Pending",
      retryAfterSeconds: 30,
      timestamp: NOW + 1,
    },
  },
  {
    name: "deactivated",
    description: "Registration exists but is deactivated; the device stops.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "deactivated",
      deviceUUID: UUID,
      reason: "Deactivated",
      timestamp: NOW + 1,
    },
  },
  {
    name: "busy",
    description: "Gateway overloaded.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "busy",
      reason: "Busy",
      retryAfterSeconds: 5,
      timestamp: NOW + 1,
    },
  },
  {
    name: "error-clock-skew",
    description: "Request timestamp too far off; the device may adopt the reply timestamp.",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "error",
      reason: "ClockSkew",
      message: "timestamp differs from gateway time by more than 300 s",
      timestamp: NOW + 1,
    },
  },
  {
    name: "error-malformed-no-request-id",
    description: "The request could not be read at all, so requestId is empty.",
    reply: {
      version: 1,
      requestId: "",
      deviceId: deviceAId,
      status: "error",
      reason: "Malformed",
      timestamp: NOW + 1,
    },
  },
  {
    name: "approved-utf8-message",
    description: "Non-ASCII message text (UTF-8).",
    reply: {
      version: 1,
      requestId: "0123456789abcdef",
      deviceId: deviceAId,
      status: "approved",
      deviceUUID: UUID,
      message: "Willkommen, Gerät ✓",
      timestamp: NOW + 1,
    },
  },
];

const replies = replyCases.map((c) => {
  const frame = gateway.sign(c.reply);
  return {
    name: c.name,
    description: c.description,
    reply: c.reply,
    ...signedFields(frame),
    frame: toHex(frame),
    frameLength: frame.length,
  };
});

// ---------------------------------------------------------------- negative
interface NegativeCase {
  name: string;
  kind: "request" | "reply";
  description: string;
  frame: Uint8Array;
  expectedError: ProtocolErrorCode;
  nowSeconds?: number;
  expectedDeviceId?: string;
  gatewayPublicKey?: Uint8Array;
}

const goodRequest = fromHex(requests[0]!.frame);
const goodReply = fromHex(replies[0]!.frame);
const req = (entries: Entry[]) => deviceSigned(map(entries));
const rep = (entries: Entry[]) => gatewaySigned(map(entries));
const nested = (depth: number) =>
  concatBytes(...Array.from({ length: depth }, () => Uint8Array.of(0x81)), tstr("deep"));

const negatives: NegativeCase[] = [
  // --- request: signatures and keys
  {
    name: "req-signature-bit-flip",
    kind: "request",
    description: "Lowest bit of the signature's first byte flipped.",
    frame: flipBit(goodRequest, goodRequest.length - 64),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-payload-bit-flip",
    kind: "request",
    description: "Last character of firmwareVersion changed ('0' to '1') after signing.",
    frame: flipBit(goodRequest, goodRequest.length - 67),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-wrong-key",
    kind: "request",
    description: "Payload carries device B's public key but is signed with device A's secret key.",
    frame: req(requestEntries(deviceB.publicKey)),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-non-canonical-s",
    kind: "request",
    description: "Valid signature with S replaced by S + L; tweetnacl alone would accept it.",
    frame: malleate(goodRequest),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-small-order-key",
    kind: "request",
    description:
      "Public key is the identity point with the all-identity signature that 'verifies' for any message.",
    frame: sign1Raw(
      EDDSA_PROTECTED_HEADER,
      Uint8Array.of(0xa0),
      map(requestEntries(fromHex("01".padEnd(64, "0")))),
      fromHex("01".padEnd(128, "0")),
    ),
    expectedError: "E_BAD_KEY",
  },
  {
    name: "req-small-order-r",
    kind: "request",
    description:
      "Signed by device A's key with the nonce r = 0: R is the identity point 01 00..00 and S = k·a. The cofactorless " +
      "equation holds, so TweetNaCl and OpenSSL alone accept it; libsodium refuses a small-order R, and so does every " +
      "gateway (PROTO-20). Only the key's owner can make one.",
    frame: deviceSignedWithR(map(requestEntries()), IDENTITY_R),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-torsion-r",
    kind: "request",
    description:
      "Signed by device A's key with R = r·B + T, T of order 8, S = r + k·a: only the cofactored equation holds. " +
      "TweetNaCl, OpenSSL and libsodium all check the cofactorless one.",
    frame: deviceSignedWithR(map(requestEntries()), torsionR(123456789n)),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-non-canonical-key",
    kind: "request",
    description:
      "Public key f0ff..ff7f (y = p + 3, a curve point not of small order), payload signed by device A. libsodium " +
      "refuses such a key outright; no one knows its discrete log, so no signature verifies with it in any library.",
    frame: req(requestEntries(NON_CANONICAL_KEY)),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-short-public-key",
    kind: "request",
    description: "Public key of 31 bytes.",
    frame: req(withValue(requestEntries(), 4, bstr(deviceA.publicKey.subarray(1)))),
    expectedError: "E_BAD_KEY",
  },
  {
    name: "req-signature-63-bytes",
    kind: "request",
    description: "Signature one byte short.",
    frame: sign1Raw(EDDSA_PROTECTED_HEADER, Uint8Array.of(0xa0), map(requestEntries()), new Uint8Array(63)),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "req-clock-skew",
    kind: "request",
    description: "Valid request checked 301 s after its timestamp (limit 300).",
    frame: goodRequest,
    nowSeconds: NOW + 301,
    expectedError: "E_CLOCK_SKEW",
  },
  {
    name: "req-clock-skew-future",
    kind: "request",
    description: "Valid request checked 301 s before its timestamp.",
    frame: goodRequest,
    nowSeconds: NOW - 301,
    expectedError: "E_CLOCK_SKEW",
  },
  {
    name: "req-topic-mismatch",
    kind: "request",
    description: "Valid request from device A arriving on device B's request topic.",
    frame: goodRequest,
    expectedDeviceId: deviceIdFromPublicKey(deviceB.publicKey),
    expectedError: "E_TOPIC_MISMATCH",
  },
  // --- request: framing and CBOR profile
  {
    name: "req-empty",
    kind: "request",
    description: "Zero-length frame.",
    frame: new Uint8Array(0),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "req-truncated-last-byte",
    kind: "request",
    description: "Valid frame missing its last byte.",
    frame: goodRequest.subarray(0, goodRequest.length - 1),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "req-truncated-half",
    kind: "request",
    description: "First half of a valid frame.",
    frame: goodRequest.subarray(0, goodRequest.length >> 1),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "req-trailing-byte",
    kind: "request",
    description: "Valid frame followed by 0x00.",
    frame: concatBytes(goodRequest, Uint8Array.of(0)),
    expectedError: "E_TRAILING_BYTES",
  },
  {
    name: "req-too-large",
    kind: "request",
    description: "Signed request of 1025+ bytes (model of 900 characters); rejected before parsing.",
    frame: req(withValue(requestEntries(), 7, tstr("x".repeat(900)))),
    expectedError: "E_TOO_LARGE",
  },
  {
    name: "req-duplicate-payload-key",
    kind: "request",
    description: "Payload map repeats key 6 (timestamp).",
    frame: req([...requestEntries(), [uint(6), uint(NOW)]]),
    expectedError: "E_DUPLICATE_KEY",
  },
  {
    name: "req-duplicate-key-wide-head",
    kind: "request",
    description: "Key 6 appears as 0x06 and as 0x1806 (same value, different head).",
    frame: req([...requestEntries(), [Uint8Array.of(0x18, 0x06), uint(NOW)]]),
    expectedError: "E_DUPLICATE_KEY",
  },
  {
    name: "req-duplicate-header-key",
    kind: "request",
    description: "Protected header {1: -8, 1: -8}.",
    frame: deviceSigned(
      map(requestEntries()),
      deviceA.secretKey,
      Uint8Array.of(0xa2, 0x01, 0x27, 0x01, 0x27),
    ),
    expectedError: "E_DUPLICATE_KEY",
  },
  {
    name: "req-indefinite-payload-map",
    kind: "request",
    description: "Payload map with indefinite length (0xbf ... 0xff).",
    frame: deviceSigned(indefiniteMap(requestEntries())),
    expectedError: "E_INDEFINITE_LENGTH",
  },
  {
    name: "req-indefinite-envelope",
    kind: "request",
    description: "COSE array with indefinite length (0x9f ... 0xff).",
    frame: concatBytes(Uint8Array.of(0xd2, 0x9f), goodRequest.subarray(2), Uint8Array.of(0xff)),
    expectedError: "E_INDEFINITE_LENGTH",
  },
  {
    name: "req-indefinite-text",
    kind: "request",
    description: "model as an indefinite-length text string (0x7f ... 0xff).",
    frame: req(
      withValue(
        requestEntries(),
        7,
        concatBytes(Uint8Array.of(0x7f), tstr("devreg"), tstr("-sim"), Uint8Array.of(0xff)),
      ),
    ),
    expectedError: "E_INDEFINITE_LENGTH",
  },
  {
    name: "req-too-deep",
    kind: "request",
    description: "model as an array nested 5 deep inside the payload map (depth 6 > 4).",
    frame: req(withValue(requestEntries(), 7, nested(5))),
    expectedError: "E_TOO_DEEP",
  },
  {
    name: "req-invalid-utf8",
    kind: "request",
    description: "model contains the byte 0xff.",
    frame: req(withValue(requestEntries(), 7, Uint8Array.of(0x63, 0x61, 0xff, 0x62))),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "req-reserved-additional-info",
    kind: "request",
    description: "Payload contains head byte 0x1c (additional information 28, reserved).",
    frame: req(withValue(requestEntries(), 6, Uint8Array.of(0x1c))),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "req-float-timestamp",
    kind: "request",
    description: "timestamp as float64 1700000000.0.",
    frame: req(withValue(requestEntries(), 6, float64(NOW))),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-unknown-tag",
    kind: "request",
    description: "timestamp wrapped in tag 1 (epoch date).",
    frame: req(withValue(requestEntries(), 6, concatBytes(Uint8Array.of(0xc1), uint(NOW)))),
    expectedError: "E_WRONG_TYPE",
  },
  // --- request: envelope
  {
    name: "req-untagged",
    kind: "request",
    description: "COSE_Sign1 array without tag 18.",
    frame: goodRequest.subarray(1),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-wrong-tag",
    kind: "request",
    description: "Tag 98 (COSE_Sign) instead of 18.",
    frame: concatBytes(Uint8Array.of(0xd8, 0x62), goodRequest.subarray(1)),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-three-elements",
    kind: "request",
    description: "COSE array of 3 (signature missing).",
    frame: concatBytes(Uint8Array.of(0xd2, 0x83), goodRequest.subarray(2, goodRequest.length - 66)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "req-bad-algorithm",
    kind: "request",
    description: "Protected header alg -7 (ES256).",
    frame: deviceSigned(map(requestEntries()), deviceA.secretKey, Uint8Array.of(0xa1, 0x01, 0x26)),
    expectedError: "E_BAD_ALGORITHM",
  },
  {
    name: "req-empty-protected",
    kind: "request",
    description: "Zero-length protected header: no alg.",
    frame: deviceSigned(map(requestEntries()), deviceA.secretKey, new Uint8Array(0)),
    expectedError: "E_BAD_ALGORITHM",
  },
  {
    name: "req-extra-header",
    kind: "request",
    description: "Protected header also carries kid (4).",
    frame: deviceSigned(
      map(requestEntries()),
      deviceA.secretKey,
      Uint8Array.of(0xa2, 0x01, 0x27, 0x04, 0x41, 0x00),
    ),
    expectedError: "E_EXTRA_FIELD",
  },
  {
    name: "req-unprotected-not-empty",
    kind: "request",
    description: "Unprotected header {4: h'00'}.",
    frame: sign1Raw(
      EDDSA_PROTECTED_HEADER,
      Uint8Array.of(0xa1, 0x04, 0x41, 0x00),
      goodRequestPayload(),
      goodRequest.subarray(goodRequest.length - 64),
    ),
    expectedError: "E_EXTRA_FIELD",
  },
  {
    name: "req-detached-payload",
    kind: "request",
    description: "Payload nil (detached content is not supported).",
    frame: concatBytes(
      goodRequest.subarray(0, 7),
      Uint8Array.of(0xf6),
      goodRequest.subarray(goodRequest.length - 66),
    ),
    expectedError: "E_WRONG_TYPE",
  },
  // --- request: payload schema
  {
    name: "req-wrong-version",
    kind: "request",
    description: "version 2, otherwise a valid v1 payload.",
    frame: req(withValue(requestEntries(), 1, uint(2))),
    expectedError: "E_UNKNOWN_VERSION",
  },
  {
    name: "req-v2-shaped",
    kind: "request",
    description: "version 2 with an unknown key 11: version wins over the extra field.",
    frame: req([...withValue(requestEntries(), 1, uint(2)), [uint(11), uint(0)]]),
    expectedError: "E_UNKNOWN_VERSION",
  },
  {
    name: "req-missing-version",
    kind: "request",
    description: "No key 1.",
    frame: req(without(requestEntries(), 1)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "req-reply-message-type",
    kind: "request",
    description: "messageType 2 (reply) in a request.",
    frame: req(withValue(requestEntries(), 2, uint(2))),
    expectedError: "E_WRONG_MESSAGE_TYPE",
  },
  {
    name: "req-missing-nonce",
    kind: "request",
    description: "No key 5.",
    frame: req(without(requestEntries(), 5)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "req-missing-model",
    kind: "request",
    description: "No key 7.",
    frame: req(without(requestEntries(), 7)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "req-extra-field",
    kind: "request",
    description: "Unknown key 11.",
    frame: req([...requestEntries(), [uint(11), uint(0)]]),
    expectedError: "E_EXTRA_FIELD",
  },
  {
    name: "req-text-key",
    kind: "request",
    description: 'Text key "model" instead of 7.',
    frame: req([...without(requestEntries(), 7), [tstr("model"), tstr("x")]]),
    expectedError: "E_EXTRA_FIELD",
  },
  {
    name: "req-timestamp-text",
    kind: "request",
    description: "timestamp as a text string.",
    frame: req(withValue(requestEntries(), 6, tstr("1700000000"))),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-timestamp-negative",
    kind: "request",
    description: "timestamp -1 (major type 1).",
    frame: req(withValue(requestEntries(), 6, nint(-1))),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-nonce-text",
    kind: "request",
    description: "nonce as a text string.",
    frame: req(withValue(requestEntries(), 5, tstr("0001020304050607"))),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "req-nonce-8-bytes",
    kind: "request",
    description: "nonce of 8 bytes (must be 16).",
    frame: req(withValue(requestEntries(), 5, bstr(new Uint8Array(8)))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "req-request-id-slash",
    kind: "request",
    description: "requestId containing '/'.",
    frame: req(withValue(requestEntries(), 3, tstr("a/b"))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "req-model-empty",
    kind: "request",
    description: "model is the empty string.",
    frame: req(withValue(requestEntries(), 7, tstr(""))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "req-model-non-ascii",
    kind: "request",
    description: "model contains U+00E9 (metadata is printable ASCII).",
    frame: req(withValue(requestEntries(), 7, tstr("caf\u00e9"))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "req-payload-array",
    kind: "request",
    description: "Payload is an array, not a map.",
    frame: deviceSigned(Uint8Array.of(0x82, 0x01, 0x01)),
    expectedError: "E_WRONG_TYPE",
  },

  // --- reply
  {
    name: "rep-signature-bit-flip",
    kind: "reply",
    description: "Highest bit of the signature's last byte flipped.",
    frame: flipBit(goodReply, goodReply.length - 1, 7),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "rep-wrong-gateway-key",
    kind: "reply",
    description: "Valid reply checked against a different pinned gateway key.",
    frame: goodReply,
    gatewayPublicKey: otherGateway.publicKey,
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "rep-non-canonical-s",
    kind: "reply",
    description: "S replaced by S + L.",
    frame: malleate(goodReply),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "rep-request-as-reply",
    kind: "reply",
    description: "A device-signed request frame offered as a reply.",
    frame: goodRequest,
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "rep-truncated",
    kind: "reply",
    description: "Valid reply missing its last 10 bytes.",
    frame: goodReply.subarray(0, goodReply.length - 10),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "rep-trailing-bytes",
    kind: "reply",
    description: "Valid reply followed by 0xa0.",
    frame: concatBytes(goodReply, Uint8Array.of(0xa0)),
    expectedError: "E_TRAILING_BYTES",
  },
  {
    name: "rep-too-large",
    kind: "reply",
    description: "Reply frame over 1024 bytes.",
    frame: rep([...replyEntries(), [uint(9), tstr("m".repeat(1000))]]),
    expectedError: "E_TOO_LARGE",
  },
  {
    name: "rep-wrong-version",
    kind: "reply",
    description: "Signed reply with version 2.",
    frame: rep(withValue(replyEntries(), 1, uint(2))),
    expectedError: "E_UNKNOWN_VERSION",
  },
  {
    name: "rep-request-message-type",
    kind: "reply",
    description: "Signed reply with messageType 1.",
    frame: rep(withValue(replyEntries(), 2, uint(1))),
    expectedError: "E_WRONG_MESSAGE_TYPE",
  },
  {
    name: "rep-duplicate-key",
    kind: "reply",
    description: "Signed reply repeating key 5 (status).",
    frame: rep([...replyEntries(), [uint(5), uint(1)]]),
    expectedError: "E_DUPLICATE_KEY",
  },
  {
    name: "rep-approved-without-uuid",
    kind: "reply",
    description: "Signed approved reply lacking deviceUUID.",
    frame: rep(without(replyEntries(), 7)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "rep-unknown-status",
    kind: "reply",
    description: "Signed reply with status 9.",
    frame: rep(withValue(replyEntries(), 5, uint(9))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "rep-status-text",
    kind: "reply",
    description: 'Signed reply with status "approved" as text.',
    frame: rep(withValue(replyEntries(), 5, tstr("approved"))),
    expectedError: "E_WRONG_TYPE",
  },
  {
    name: "rep-uuid-uppercase",
    kind: "reply",
    description: "deviceUUID in upper case.",
    frame: rep(withValue(replyEntries(), 7, tstr(UUID.toUpperCase()))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "rep-message-too-long",
    kind: "reply",
    description: "message of 257 bytes.",
    frame: rep([...replyEntries(), [uint(9), tstr("m".repeat(257))]]),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "rep-empty-request-id-approved",
    kind: "reply",
    description: "Empty requestId on a non-error reply.",
    frame: rep(withValue(replyEntries(), 3, tstr(""))),
    expectedError: "E_INVALID_VALUE",
  },
  {
    name: "rep-extra-field",
    kind: "reply",
    description: "Signed reply with unknown key 11.",
    frame: rep([...replyEntries(), [uint(11), uint(0)]]),
    expectedError: "E_EXTRA_FIELD",
  },
];

function goodRequestPayload(): Uint8Array {
  return fromHex(requests[0]!.payload);
}

// ---------------------------------------------------------------- Sig_structure head [PROTO-15]
// The frame may carry the payload under a non-shortest bstr head (receivers accept
// non-deterministic CBOR, PROTO-7); the Sig_structure always uses the shortest head.
const minimalPayload = goodRequestPayload();
const widePayloadHead = Uint8Array.of(0x59, 0x00, minimalPayload.length);
const wideHeadFrame = (signedInput: Uint8Array) =>
  concatBytes(
    Uint8Array.of(0xd2, 0x84),
    bstr(EDDSA_PROTECTED_HEADER),
    Uint8Array.of(0xa0),
    widePayloadHead,
    minimalPayload,
    bstr(nacl.sign.detached(signedInput, deviceA.secretKey)),
  );
const wideHeadAccepted = wideHeadFrame(sigStructure(EDDSA_PROTECTED_HEADER, minimalPayload));
negatives.push({
  name: "req-sig-structure-wide-head",
  kind: "request",
  description:
    "Payload under the head 59 0065 in the frame, signed over a Sig_structure that repeats that head instead of the shortest 58 65.",
  frame: wideHeadFrame(
    concatBytes(fromHex("846a5369676e61747572653143a1012740"), widePayloadHead, minimalPayload),
  ),
  expectedError: "E_BAD_SIGNATURE",
});

// ---------------------------------------------------------------- CONNECT proofs [PROTO-37..39]
interface ConnectCase {
  name: string;
  description: string;
  seed: string;
  nonce: string;
  timestamp: number;
}
const connectCases: ConnectCase[] = [
  {
    name: "connect-minimal",
    description: "Device key RFC 8032 TEST 1, 5-byte timestamp head.",
    seed: DEVICE_A_SEED,
    nonce: "101112131415161718191a1b1c1d1e1f",
    timestamp: NOW,
  },
  {
    name: "connect-uint64-timestamp",
    description: "Device key RFC 8032 TEST 3, timestamp past 2^32-1 (9-byte head): the largest valid proof.",
    seed: DEVICE_B_SEED,
    nonce: "ffffffffffffffffffffffffffffffff",
    timestamp: 4_294_967_296,
  },
];
const connects = connectCases.map((c) => {
  const keyPair = generateDeviceKeyPair(fromHex(c.seed));
  const password = encodeConnectProof({ keyPair, nonce: fromHex(c.nonce), timestamp: c.timestamp });
  const deviceId = deviceIdFromPublicKey(keyPair.publicKey);
  return {
    name: c.name,
    description: c.description,
    seed: c.seed,
    publicKey: toHex(keyPair.publicKey),
    clientId: deviceId,
    username: deviceId,
    nonce: c.nonce,
    timestamp: c.timestamp,
    ...signedFields(password),
    password: toHex(password),
    passwordText: connectProofText(password),
    passwordLength: password.length,
  };
});

const goodProof = fromHex(connects[0]!.password);
const deviceBId = deviceIdFromPublicKey(deviceB.publicKey);
function proofEntries(publicKey = deviceA.publicKey, clientId = deviceAId, timestamp = NOW): Entry[] {
  return [
    [uint(1), uint(1)],
    [uint(2), uint(3)],
    [uint(3), tstr(clientId)],
    [uint(4), bstr(publicKey)],
    [uint(5), bstr(fromHex("202122232425262728292a2b2c2d2e2f"))],
    [uint(6), uint(timestamp)],
  ];
}
const proof = (entries: Entry[], secretKey = deviceA.secretKey) => deviceSigned(map(entries), secretKey);

interface ConnectNegative {
  name: string;
  description: string;
  clientId?: string;
  username?: string | null;
  password?: Uint8Array | null;
  nowSeconds?: number;
  expectedError: ProtocolErrorCode;
  /** Present the same credentials twice to one replay memory; the second gets expectedError. */
  presentTwice?: boolean;
}
const connectNegatives: ConnectNegative[] = [
  {
    name: "con-no-username",
    description: "CONNECT without a username.",
    username: null,
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "con-no-password",
    description: "CONNECT without a password (no proof).",
    password: null,
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "con-username-not-client-id",
    description: "Username is another device's id.",
    username: deviceBId,
    expectedError: "E_CLIENT_MISMATCH",
  },
  {
    name: "con-too-large",
    description: "Password of 257 bytes.",
    password: concatBytes(goodProof, new Uint8Array(257 - goodProof.length)),
    expectedError: "E_TOO_LARGE",
  },
  {
    name: "con-text-padded",
    description: "The base64url text form with '=' padding (not allowed).",
    password: new TextEncoder().encode(`${connectProofText(goodProof)}==`),
    expectedError: "E_BAD_ENCODING",
  },
  {
    name: "con-text-standard-alphabet",
    description: "The proof as standard base64 (+ and /), not base64url.",
    password: new TextEncoder().encode(Buffer.from(goodProof).toString("base64").replace(/=+$/, "")),
    expectedError: "E_BAD_ENCODING",
  },
  {
    name: "con-text-too-long",
    description: "Base64url text of 343 characters.",
    password: new TextEncoder().encode("A".repeat(343)),
    expectedError: "E_TOO_LARGE",
  },
  {
    name: "con-trailing-byte",
    description: "Valid proof followed by one byte.",
    password: concatBytes(goodProof, Uint8Array.of(0)),
    expectedError: "E_TRAILING_BYTES",
  },
  {
    name: "con-plain-password",
    description: "A plain-text password: valid base64url text, but its bytes are not a CBOR data item.",
    password: new TextEncoder().encode("hunter2x"),
    expectedError: "E_MALFORMED_CBOR",
  },
  {
    name: "con-enroll-request",
    description: "An enroll request (messageType 1) as the password.",
    password: goodRequest,
    expectedError: "E_WRONG_MESSAGE_TYPE",
  },
  {
    name: "con-extra-field",
    description: "Proof payload with unknown key 7.",
    password: proof([...proofEntries(), [uint(7), uint(0)]]),
    expectedError: "E_EXTRA_FIELD",
  },
  {
    name: "con-missing-nonce",
    description: "Proof payload without key 5.",
    password: proof(without(proofEntries(), 5)),
    expectedError: "E_MISSING_FIELD",
  },
  {
    name: "con-small-order-key",
    description: "Identity point as the public key, with the signature it 'verifies'.",
    password: sign1Raw(
      EDDSA_PROTECTED_HEADER,
      Uint8Array.of(0xa0),
      map(proofEntries(fromHex(`01${"00".repeat(31)}`))),
      fromHex(`01${"00".repeat(63)}`),
    ),
    expectedError: "E_BAD_KEY",
  },
  {
    name: "con-proof-for-other-client",
    description: "A valid proof by device B (for B's id) presented with client id and username of device A.",
    password: proof(proofEntries(deviceB.publicKey, deviceBId), deviceB.secretKey),
    expectedError: "E_CLIENT_MISMATCH",
  },
  {
    name: "con-key-not-client-id",
    description: "Payload clientId is device A's, but the key (which signed) is device B's.",
    password: proof(proofEntries(deviceB.publicKey, deviceAId), deviceB.secretKey),
    expectedError: "E_CLIENT_MISMATCH",
  },
  {
    name: "con-signature-bit-flip",
    description: "Valid proof with one signature bit flipped.",
    password: flipBit(goodProof, goodProof.length - 10),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "con-signed-by-other-key",
    description: "Device A's payload signed by device B's key.",
    password: proof(proofEntries(), deviceB.secretKey),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "con-non-canonical-s",
    description: "Valid proof with S replaced by S + L.",
    password: malleate(goodProof),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "con-small-order-r",
    description:
      "Valid payload signed by device A's key with the nonce r = 0 (R the identity point), as req-small-order-r.",
    password: deviceSignedWithR(map(proofEntries()), IDENTITY_R),
    expectedError: "E_BAD_SIGNATURE",
  },
  {
    name: "con-stale",
    description: "Valid proof presented 301 s after its timestamp.",
    nowSeconds: NOW + 301,
    expectedError: "E_CLOCK_SKEW",
  },
  {
    name: "con-future",
    description: "Valid proof presented 301 s before its timestamp.",
    nowSeconds: NOW - 301,
    expectedError: "E_CLOCK_SKEW",
  },
  {
    name: "con-replayed",
    description: "The same valid proof presented twice within the replay window: the second is refused.",
    presentTwice: true,
    expectedError: "E_REPLAY",
  },
];

// ---------------------------------------------------------------- write
const HEADER = {
  generatedBy: "protocol/scripts/gen-vectors.ts (deterministic; do not edit by hand)",
  spec: "protocol/SPEC.md",
  protocolVersion: 1,
};

function write(name: string, body: object): void {
  writeFileSync(new URL(name, OUT), `${JSON.stringify({ ...HEADER, ...body }, null, 2)}\n`);
}

write("requests.json", {
  about:
    "Valid enroll requests. Device side must produce `frame` exactly; gateway side must accept it at `timestamp`.",
  vectors: requests,
  accepted: [
    {
      name: "wide-payload-head",
      description:
        "Vector minimal with its payload under the non-shortest head 59 0065. Not deterministic, so no device sends it, but a gateway " +
        "MUST accept it: the Sig_structure uses the shortest head 58 65 whatever head the frame has (PROTO-15).",
      deviceId: deviceAId,
      nowSeconds: NOW,
      frame: toHex(wideHeadAccepted),
    },
  ],
});
write("replies.json", {
  about:
    "Valid replies signed by the gateway key. Gateway side must produce `frame` exactly; device side must accept it.",
  gatewaySeed: GATEWAY_SEED,
  gatewayPublicKey: toHex(gateway.publicKey),
  vectors: replies,
});
write("connect.json", {
  about:
    "MQTT CONNECT proofs of key possession (PROTO-37..39). `valid`: a device must produce `password` exactly; a gateway must accept " +
    "clientId/username/password at `timestamp`. `invalid`: fields not given default to connect-minimal's clientId, username and " +
    "password (null = absent) and to nowSeconds; both implementations must refuse with expectedError.",
  nowSeconds: NOW,
  valid: connects,
  invalid: connectNegatives.map((n) => ({
    name: n.name,
    description: n.description,
    ...(n.clientId !== undefined ? { clientId: n.clientId } : {}),
    ...(n.username !== undefined ? { username: n.username } : {}),
    ...(n.password !== undefined ? { password: n.password === null ? null : toHex(n.password) } : {}),
    ...(n.nowSeconds !== undefined ? { nowSeconds: n.nowSeconds } : {}),
    ...(n.presentTwice ? { presentTwice: true } : {}),
    expectedError: n.expectedError,
  })),
});
write("negative.json", {
  about:
    "Frames both implementations must reject with `expectedError`. Requests are checked at nowSeconds (default 1700000000) " +
    "with no topic binding unless expectedDeviceId is given; replies against gatewayPublicKey unless the vector overrides it.",
  nowSeconds: NOW,
  gatewayPublicKey: toHex(gateway.publicKey),
  vectors: negatives.map((n) => ({
    name: n.name,
    kind: n.kind,
    description: n.description,
    frame: toHex(n.frame),
    expectedError: n.expectedError,
    ...(n.nowSeconds !== undefined ? { nowSeconds: n.nowSeconds } : {}),
    ...(n.expectedDeviceId !== undefined ? { expectedDeviceId: n.expectedDeviceId } : {}),
    ...(n.gatewayPublicKey !== undefined ? { gatewayPublicKey: toHex(n.gatewayPublicKey) } : {}),
  })),
});
console.log(
  `wrote ${requests.length} request, ${replies.length} reply, ${negatives.length} negative and ${connects.length + connectNegatives.length} connect vectors`,
);
