import {
  createGatewaySigner,
  encodeEnrollReply,
  PROTOCOL_VERSION,
  decodeEnrollRequest,
  type EnrollReply,
} from "@devreg/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deviceCrypto, nodeCrypto, tweetnaclCrypto } from "./device-crypto.ts";

const backends = [tweetnaclCrypto, nodeCrypto];
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe("crypto backends", () => {
  it("derive the same key pair from a seed", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const a = tweetnaclCrypto.keyPairFromSeed(seed);
        const b = nodeCrypto.keyPairFromSeed(seed);
        expect(Buffer.from(b.publicKey)).toEqual(Buffer.from(a.publicKey));
        expect(Buffer.from(b.secretKey)).toEqual(Buffer.from(a.secretKey));
      }),
      { numRuns: 20 },
    );
  });

  it("produce byte-identical enroll requests that the gateway accepts", () => {
    fc.assert(
      fc.property(seedArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), (seed, nonce) => {
        const input = {
          requestId: "abc123",
          nonce,
          timestamp: 1_700_000_000,
          metadata: { model: "sim-x", firmwareVersion: "1.2.3", serialNumber: "SN1" },
        };
        const [a, b] = backends.map((c) => c.encodeRequest({ ...input, keyPair: c.keyPairFromSeed(seed) }));
        expect(Buffer.from(b!)).toEqual(Buffer.from(a!));
        const decoded = decodeEnrollRequest(a!, { nowSeconds: 1_700_000_000 });
        expect(decoded.ok).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it("agree on every reply verification: genuine, wrong key, forged, unsigned, tampered", () => {
    const gateway = createGatewaySigner();
    const impostor = createGatewaySigner();
    const reply: EnrollReply = {
      version: PROTOCOL_VERSION,
      requestId: "r1",
      deviceId: "0123456789abcdef0123456789abcdef",
      status: "approved",
      deviceUUID: "11111111-2222-4333-8444-555555555555",
      timestamp: 1_700_000_000,
    };
    const genuine = encodeEnrollReply(reply, gateway);
    const tampered = Uint8Array.from(genuine);
    tampered[tampered.length - 70] = tampered[tampered.length - 70]! ^ 1; // a payload byte
    const zeroSig = Uint8Array.from(genuine);
    zeroSig.fill(0, zeroSig.length - 64);
    const cases: Array<[string, Uint8Array, boolean]> = [
      ["genuine", genuine, true],
      ["signed by another key", encodeEnrollReply(reply, impostor), false],
      ["tampered payload", tampered, false],
      ["zeroed signature", zeroSig, false],
      ["not CBOR at all", new TextEncoder().encode('{"status":"approved"}'), false],
      ["empty", new Uint8Array(0), false],
    ];
    for (const [what, frame, valid] of cases) {
      const results = backends.map((c) => c.verifyReply(frame, gateway.publicKey));
      for (const r of results) expect(r.ok, `${what}`).toBe(valid);
      expect(results[1], what).toEqual(results[0]); // same value or the same error code
    }
  });

  it("are chosen by name, and an unknown name is a typed error", () => {
    expect(deviceCrypto(undefined).name).toBe("tweetnacl");
    expect(deviceCrypto("node").name).toBe("node");
    expect(() => deviceCrypto("openssl" as never)).toThrow(expect.objectContaining({ code: "E_BAD_OPTION" }));
  });
});
