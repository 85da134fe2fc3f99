import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import { encodeCbor } from "./cbor-codec.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "./cose-sign1.ts";
import { hasCanonicalS, isSmallOrderKey } from "./ed25519-rules.ts";
import { opensslVerify, sodiumVerify } from "./gateway.ts";
import { fromHex, toHex } from "./hex.ts";
import {
  type DeviceKeyPair,
  decodeEnrollRequest,
  decodeEnrollRequestWithNacl,
  deviceIdFromPublicKey,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  MAX_REQUEST_BYTES,
  newNonce,
  newRequestId,
  PROTOCOL_VERSION,
  ProtocolError,
  peekRequestId,
} from "./index.ts";
import { requestVectors } from "./test-vectors.ts";

const NOW = 1_700_000_000;
const keyPair = generateDeviceKeyPair(new Uint8Array(32).fill(9));
const base = {
  keyPair,
  requestId: "req-1",
  nonce: new Uint8Array(16).fill(3),
  timestamp: NOW,
  metadata: { model: "m", firmwareVersion: "1" },
};
const code = (r: { ok: boolean; error?: ProtocolError }) => (r.ok ? "ok" : r.error!.code);

/** Signs arbitrary payload values the way a (possibly buggy) device would. */
function signPayload(payload: Map<number, unknown>, kp: DeviceKeyPair = keyPair): Uint8Array {
  const bytes = encodeCbor(payload);
  return encodeSign1(
    EDDSA_PROTECTED_HEADER,
    bytes,
    nacl.sign.detached(sigStructure(EDDSA_PROTECTED_HEADER, bytes), kp.secretKey),
  );
}
function goodPayload(): Map<number, unknown> {
  return new Map<number, unknown>([
    [1, 1],
    [2, 1],
    [3, "req-1"],
    [4, keyPair.publicKey],
    [5, new Uint8Array(16)],
    [6, NOW],
    [7, "m"],
    [8, "1"],
  ]);
}

describe("enroll request", () => {
  it("[PROTO-17] round-trips through device encoder and gateway decoder, optional metadata included", () => {
    const frame = encodeEnrollRequest({
      ...base,
      metadata: { ...base.metadata, hardwareRevision: "B", serialNumber: "S 1" },
    });
    const r = decodeEnrollRequest(frame, { nowSeconds: NOW });
    expect(r).toEqual({
      ok: true,
      value: {
        version: PROTOCOL_VERSION,
        publicKey: keyPair.publicKey,
        deviceId: deviceIdFromPublicKey(keyPair.publicKey),
        requestId: "req-1",
        nonce: base.nonce,
        timestamp: NOW,
        metadata: { model: "m", firmwareVersion: "1", hardwareRevision: "B", serialNumber: "S 1" },
      },
    });
  });

  it("[PROTO-17] decoded byte fields are copies, not views of the caller's frame", () => {
    const frame = encodeEnrollRequest(base);
    const r = decodeEnrollRequest(frame, { nowSeconds: NOW });
    frame.fill(0);
    expect(r.ok && r.value.nonce).toEqual(base.nonce);
  });

  it("[PROTO-13] checks the size first: over MAX_REQUEST_BYTES is E_TOO_LARGE whatever the content", () => {
    expect(MAX_REQUEST_BYTES).toBe(1024);
    expect(code(decodeEnrollRequest(new Uint8Array(MAX_REQUEST_BYTES + 1)))).toBe("E_TOO_LARGE");
    expect(code(decodeEnrollRequest(new Uint8Array(MAX_REQUEST_BYTES)))).not.toBe("E_TOO_LARGE");
  });

  it("[PROTO-13] the largest valid request fits well inside the limit", () => {
    const max = requestVectors.vectors.find((v) => v.name === "max-lengths")!;
    expect(max.frameLength).toBeLessThan(MAX_REQUEST_BYTES / 2);
  });

  it("[PROTO-14] accepts only tagged COSE_Sign1 with protected {1:-8} and empty unprotected header", () => {
    const payload = encodeCbor(goodPayload());
    const sig = nacl.sign.detached(sigStructure(EDDSA_PROTECTED_HEADER, payload), keyPair.secretKey);
    expect(
      code(decodeEnrollRequest(encodeSign1(EDDSA_PROTECTED_HEADER, payload, sig), { nowSeconds: NOW })),
    ).toBe("ok");
    // alg as wide head -8 (0x3807) is the same value: accepted, signature covers those bytes.
    const wide = Uint8Array.of(0xa1, 0x01, 0x38, 0x07);
    const sigWide = nacl.sign.detached(sigStructure(wide, payload), keyPair.secretKey);
    expect(code(decodeEnrollRequest(encodeSign1(wide, payload, sigWide), { nowSeconds: NOW }))).toBe("ok");
    const alg = (h: string) =>
      code(decodeEnrollRequest(encodeSign1(fromHex(h), payload, sig), { nowSeconds: NOW }));
    expect(alg("a10126")).toBe("E_BAD_ALGORITHM"); // ES256
    expect(alg("a101654564445341")).toBe("E_BAD_ALGORITHM"); // alg as text "EdDSA"
    expect(alg("a0")).toBe("E_BAD_ALGORITHM");
    expect(alg("80")).toBe("E_WRONG_TYPE");
    expect(alg("a2012703183c")).toBe("E_EXTRA_FIELD"); // content type
    expect(code(decodeEnrollRequest(encodeCbor([EDDSA_PROTECTED_HEADER, new Map(), payload, sig])))).toBe(
      "E_WRONG_TYPE",
    );
  });

  it("[PROTO-16] rejects S >= L although tweetnacl on its own would accept it", () => {
    const frame = encodeEnrollRequest(base);
    const sig = frame.slice(frame.length - 64);
    const L = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const sum = sig[32 + i]! + L[i]! + carry;
      sig[32 + i] = sum & 0xff;
      carry = sum >> 8;
    }
    expect(hasCanonicalS(sig)).toBe(false);
    const forged = frame.slice();
    forged.set(sig, frame.length - 64);
    // The raw library accepts the malleated signature...
    const tbs = sigStructureOf(frame);
    expect(nacl.sign.detached.verify(tbs, sig, keyPair.publicKey)).toBe(true);
    // ...but both devreg implementations refuse it, and so do the raw OpenSSL and libsodium paths.
    expect(code(decodeEnrollRequest(forged, { nowSeconds: NOW }))).toBe("E_BAD_SIGNATURE");
    expect(code(decodeEnrollRequestWithNacl(forged, { nowSeconds: NOW }))).toBe("E_BAD_SIGNATURE");
    expect(opensslVerify(tbs, sig, keyPair.publicKey)).toBe(false);
    expect(sodiumVerify(tbs, sig, keyPair.publicKey)).toBe(false);
  });

  it("[PROTO-18] [PROTO-33] checks version before any other payload field", () => {
    const v2 = goodPayload();
    v2.set(1, 2);
    v2.set(99, "new in v2");
    v2.delete(7);
    expect(code(decodeEnrollRequest(signPayload(v2), { nowSeconds: NOW }))).toBe("E_UNKNOWN_VERSION");
    const v0 = goodPayload();
    v0.set(1, 0);
    expect(code(decodeEnrollRequest(signPayload(v0), { nowSeconds: NOW }))).toBe("E_UNKNOWN_VERSION");
    const vText = goodPayload();
    vText.set(1, "1");
    expect(code(decodeEnrollRequest(signPayload(vText), { nowSeconds: NOW }))).toBe("E_UNKNOWN_VERSION");
    const type = goodPayload();
    type.set(2, 2);
    expect(code(decodeEnrollRequest(signPayload(type), { nowSeconds: NOW }))).toBe("E_WRONG_MESSAGE_TYPE");
    const noType = goodPayload();
    noType.delete(2);
    expect(code(decodeEnrollRequest(signPayload(noType), { nowSeconds: NOW }))).toBe("E_MISSING_FIELD");
  });

  it("[PROTO-19] missing, extra, wrong-type and out-of-range fields each get their code", () => {
    const cases: [string, (m: Map<number, unknown>) => void, string, string][] = [
      ["missing requestId", (m) => m.delete(3), "E_MISSING_FIELD", "requestId"],
      ["missing publicKey", (m) => m.delete(4), "E_MISSING_FIELD", "publicKey"],
      ["missing timestamp", (m) => m.delete(6), "E_MISSING_FIELD", "timestamp"],
      ["missing firmwareVersion", (m) => m.delete(8), "E_MISSING_FIELD", "firmwareVersion"],
      ["extra key 11", (m) => m.set(11, 1), "E_EXTRA_FIELD", "11"],
      ["extra negative key", (m) => m.set(-1, 1), "E_EXTRA_FIELD", "-1"],
      ["requestId as bytes", (m) => m.set(3, new Uint8Array(3)), "E_WRONG_TYPE", "requestId"],
      ["publicKey as text", (m) => m.set(4, "k"), "E_WRONG_TYPE", "publicKey"],
      ["timestamp as text", (m) => m.set(6, "1"), "E_WRONG_TYPE", "timestamp"],
      ["timestamp negative", (m) => m.set(6, -5), "E_WRONG_TYPE", "timestamp"],
      ["timestamp above 2^53-1", (m) => m.set(6, 2n ** 60n), "E_INVALID_VALUE", "timestamp"],
      ["model as array", (m) => m.set(7, ["m"]), "E_WRONG_TYPE", "model"],
      ["hardwareRevision as uint", (m) => m.set(9, 1), "E_WRONG_TYPE", "hardwareRevision"],
      ["requestId 37 chars", (m) => m.set(3, "a".repeat(37)), "E_INVALID_VALUE", "requestId"],
      ["requestId empty", (m) => m.set(3, ""), "E_INVALID_VALUE", "requestId"],
      ["requestId with space", (m) => m.set(3, "a b"), "E_INVALID_VALUE", "requestId"],
      ["nonce 17 bytes", (m) => m.set(5, new Uint8Array(17)), "E_INVALID_VALUE", "nonce"],
      ["model 65 chars", (m) => m.set(7, "m".repeat(65)), "E_INVALID_VALUE", "model"],
      ["firmwareVersion 33 chars", (m) => m.set(8, "1".repeat(33)), "E_INVALID_VALUE", "firmwareVersion"],
      ["serialNumber with newline", (m) => m.set(10, "a\nb"), "E_INVALID_VALUE", "serialNumber"],
      ["serialNumber empty", (m) => m.set(10, ""), "E_INVALID_VALUE", "serialNumber"],
      ["publicKey 33 bytes", (m) => m.set(4, new Uint8Array(33)), "E_BAD_KEY", "publicKey"],
    ];
    for (const [name, edit, expected, field] of cases) {
      const m = goodPayload();
      edit(m);
      const r = decodeEnrollRequest(signPayload(m), { nowSeconds: NOW });
      expect(r.ok ? "ok" : `${r.error.code}/${r.error.field}`, name).toBe(`${expected}/${field}`);
    }
  });

  it("[PROTO-19] timestamp in a uint64 head is accepted when it fits 2^53-1", () => {
    const m = goodPayload();
    m.set(6, BigInt(NOW)); // cbor-x writes bigint as 0x1b, 8-byte head
    const r = decodeEnrollRequest(signPayload(m), { nowSeconds: NOW });
    expect(r.ok && r.value.timestamp).toBe(NOW);
  });

  it("[PROTO-20] proof of possession: a request signed by another key is E_BAD_SIGNATURE", () => {
    const other = generateDeviceKeyPair(new Uint8Array(32).fill(10));
    expect(code(decodeEnrollRequest(signPayload(goodPayload(), other), { nowSeconds: NOW }))).toBe(
      "E_BAD_SIGNATURE",
    );
    expect(code(decodeEnrollRequestWithNacl(signPayload(goodPayload(), other), { nowSeconds: NOW }))).toBe(
      "E_BAD_SIGNATURE",
    );
  });

  it("[PROTO-20] small-order keys are E_BAD_KEY: the identity key 'verifies' a forged signature", () => {
    const identity = fromHex("01".padEnd(64, "0"));
    const forgedSig = fromHex("01".padEnd(128, "0")); // R = identity, S = 0
    const m = goodPayload();
    m.set(4, identity);
    const payload = encodeCbor(m);
    const tbs = sigStructure(EDDSA_PROTECTED_HEADER, payload);
    expect(nacl.sign.detached.verify(tbs, forgedSig, identity)).toBe(true); // why the blocklist exists
    const frame = encodeSign1(EDDSA_PROTECTED_HEADER, payload, forgedSig);
    expect(code(decodeEnrollRequest(frame, { nowSeconds: NOW }))).toBe("E_BAD_KEY");
    expect(code(decodeEnrollRequestWithNacl(frame, { nowSeconds: NOW }))).toBe("E_BAD_KEY");
    expect(isSmallOrderKey(identity)).toBe(true);
    const withSignBit = identity.slice();
    withSignBit[31] = 0x80;
    expect(isSmallOrderKey(withSignBit)).toBe(true);
    expect(isSmallOrderKey(keyPair.publicKey)).toBe(false);
  });

  it("[PROTO-21] request ids and nonces are fresh and well-formed", () => {
    const ids = new Set(Array.from({ length: 200 }, () => newRequestId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    const nonces = new Set(Array.from({ length: 200 }, () => toHex(newNonce())));
    expect(nonces.size).toBe(200);
    expect(newNonce()).toHaveLength(16);
  });

  it("[PROTO-22] accepts |now - timestamp| <= 300 s by default, and honours maxSkewSeconds", () => {
    const frame = encodeEnrollRequest(base);
    for (const [now, expected] of [
      [NOW, "ok"],
      [NOW + 300, "ok"],
      [NOW - 300, "ok"],
      [NOW + 301, "E_CLOCK_SKEW"],
      [NOW - 301, "E_CLOCK_SKEW"],
    ] as const) {
      expect(code(decodeEnrollRequest(frame, { nowSeconds: now })), String(now - NOW)).toBe(expected);
    }
    expect(code(decodeEnrollRequest(frame, { nowSeconds: NOW + 30, maxSkewSeconds: 10 }))).toBe(
      "E_CLOCK_SKEW",
    );
    // Without nowSeconds the wall clock is used: a 2023 timestamp is stale now.
    expect(code(decodeEnrollRequest(frame))).toBe("E_CLOCK_SKEW");
    const fresh = encodeEnrollRequest({ ...base, timestamp: Math.floor(Date.now() / 1000) });
    expect(code(decodeEnrollRequest(fresh))).toBe("ok");
  });

  it("[PROTO-24] precedence: schema before topic, topic before signature, signature before skew", () => {
    const other = generateDeviceKeyPair(new Uint8Array(32).fill(10));
    const otherId = deviceIdFromPublicKey(other.publicKey);
    const m = goodPayload();
    m.set(5, new Uint8Array(3)); // bad nonce, bad signature, wrong topic, stale
    const frame = signPayload(m, other);
    expect(code(decodeEnrollRequest(frame, { nowSeconds: 0, expectedDeviceId: otherId }))).toBe(
      "E_INVALID_VALUE",
    );
    const badSigStale = signPayload(goodPayload(), other);
    expect(code(decodeEnrollRequest(badSigStale, { nowSeconds: 0, expectedDeviceId: otherId }))).toBe(
      "E_TOPIC_MISMATCH",
    );
    expect(code(decodeEnrollRequest(badSigStale, { nowSeconds: 0 }))).toBe("E_BAD_SIGNATURE");
    expect(code(decodeEnrollRequest(signPayload(goodPayload()), { nowSeconds: 0 }))).toBe("E_CLOCK_SKEW");
  });

  it("[PROTO-36] never throws, whatever it is handed", () => {
    const junk: unknown[] = [undefined, null, "frame", 42, {}, [], new ArrayBuffer(4), new Uint16Array(3)];
    for (const j of junk) {
      const r = decodeEnrollRequest(j as Uint8Array);
      expect(r.ok).toBe(false);
      expect(r.ok || r.error).toBeInstanceOf(ProtocolError);
      expect(peekRequestId(j as Uint8Array)).toBeNull();
    }
  });

  it("[PROTO-28] peekRequestId reads the id from frames that fail later checks only", () => {
    const frame = encodeEnrollRequest(base);
    expect(peekRequestId(frame)).toBe("req-1");
    const stale = decodeEnrollRequest(frame, { nowSeconds: 0 });
    expect(code(stale)).toBe("E_CLOCK_SKEW");
    const bad = goodPayload();
    bad.set(5, "not bytes");
    expect(peekRequestId(signPayload(bad))).toBe("req-1");
    const badId = goodPayload();
    badId.set(3, "has space");
    expect(peekRequestId(signPayload(badId))).toBeNull();
    expect(peekRequestId(frame.subarray(0, 20))).toBeNull();
    const notRequest = goodPayload();
    notRequest.set(2, 2);
    expect(peekRequestId(signPayload(notRequest))).toBeNull();
  });

  it("[PROTO-28] 'readable': a bad envelope or version still gives the id; a trailing byte or a broken payload does not", () => {
    const payload = encodeCbor(goodPayload());
    const sig = new Uint8Array(64);
    // Wrong protected header (alg -7), short signature: the envelope fails, the payload is intact.
    expect(peekRequestId(encodeSign1(Uint8Array.of(0xa1, 0x01, 0x26), payload, sig.subarray(0, 3)))).toBe(
      "req-1",
    );
    const v2 = goodPayload();
    v2.set(1, 2);
    expect(code(decodeEnrollRequest(signPayload(v2)))).toBe("E_UNKNOWN_VERSION");
    expect(peekRequestId(signPayload(v2))).toBe("req-1");
    // A trailing byte after the frame: the frame is not one data item.
    const frame = encodeEnrollRequest(base);
    const trailing = new Uint8Array([...frame, 0x00]);
    expect(code(decodeEnrollRequest(trailing))).toBe("E_TRAILING_BYTES");
    expect(peekRequestId(trailing)).toBeNull();
    // A trailing byte inside the payload byte string.
    const innerTrailing = encodeSign1(EDDSA_PROTECTED_HEADER, new Uint8Array([...payload, 0x00]), sig);
    expect(peekRequestId(innerTrailing)).toBeNull();
  });
});

describe("encodeEnrollRequest input checks", () => {
  it("[PROTO-17] throws a ProtocolError with a stable code for invalid input", () => {
    const bad: [Partial<typeof base>, string][] = [
      [{ requestId: "" }, "E_INVALID_VALUE"],
      [{ nonce: new Uint8Array(8) }, "E_INVALID_VALUE"],
      [{ timestamp: -1 }, "E_WRONG_TYPE"],
      [{ timestamp: 1.5 }, "E_WRONG_TYPE"],
      [{ metadata: { model: "", firmwareVersion: "1" } }, "E_INVALID_VALUE"],
      [{ metadata: { model: "caf\u00e9", firmwareVersion: "1" } }, "E_INVALID_VALUE"],
      [{ metadata: { firmwareVersion: "1" } as never }, "E_MISSING_FIELD"],
      [{ keyPair: { publicKey: keyPair.publicKey, secretKey: new Uint8Array(64) } }, "E_BAD_KEY"],
    ];
    for (const [override, expected] of bad) {
      let err: unknown;
      try {
        encodeEnrollRequest({ ...base, ...override });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(override)).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe(expected);
    }
  });

  it("[PROTO-1] generateDeviceKeyPair is deterministic for a seed and random without one", () => {
    const seed = new Uint8Array(32).fill(5);
    expect(generateDeviceKeyPair(seed)).toEqual(generateDeviceKeyPair(seed));
    expect(generateDeviceKeyPair().publicKey).not.toEqual(generateDeviceKeyPair().publicKey);
    expect(() => generateDeviceKeyPair(new Uint8Array(31))).toThrow(ProtocolError);
  });
});

function sigStructureOf(frame: Uint8Array): Uint8Array {
  // Our frames: d2 84 43 a10127 a0 58 LL <payload> 58 40 <sig>
  const payload = frame.subarray(9, frame.length - 66);
  return sigStructure(EDDSA_PROTECTED_HEADER, payload);
}
