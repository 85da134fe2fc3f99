import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import { isDeterministic } from "./cbor-wellformed.ts";
import { parseSign1, sigStructure } from "./cose-sign1.ts";
import { naclVerify } from "./device.ts";
import { encodeEnrollRequestWithNode, nodeDeviceId, opensslVerify, sodiumVerify } from "./gateway.ts";
import { fromHex, toHex } from "./hex.ts";
import {
  createGatewaySigner,
  decodeEnrollReplyUnverified,
  decodeEnrollRequest,
  decodeEnrollRequestWithNacl,
  deviceIdFromPublicKey,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  registrationName,
  replyTopic,
  requestTopic,
  verifyEnrollReply,
  verifyEnrollReplyWithNode,
} from "./index.ts";
import { decodeEnrollRequestWithOpenssl } from "./openssl-twin.ts";
import { negativeVectors, replyVectors, requestVectors } from "./test-vectors.ts";

// Three implementations: device = tweetnacl, gateway = libsodium, and node:crypto (OpenSSL) for
// simulated devices and as the gateway's former library. Every vector is checked by each; the
// vectors themselves come from scripts/gen-vectors.ts and are committed.
const requestDecoders = [decodeEnrollRequest, decodeEnrollRequestWithNacl, decodeEnrollRequestWithOpenssl];

describe("request vectors", () => {
  it("has the vectors the SPEC appendix lists", () => {
    expect(requestVectors.vectors.map((v) => v.name)).toEqual(["minimal", "full-metadata", "max-lengths"]);
  });

  for (const v of requestVectors.vectors) {
    describe(v.name, () => {
      const keyPair = generateDeviceKeyPair(fromHex(v.seed));

      it("[PROTO-1] [PROTO-2] [PROTO-3] [PROTO-4] key, deviceId, registration name and topics", () => {
        expect(toHex(keyPair.publicKey)).toBe(v.publicKey);
        expect(deviceIdFromPublicKey(keyPair.publicKey)).toBe(v.deviceId);
        expect(nodeDeviceId(keyPair.publicKey)).toBe(v.deviceId);
        expect(registrationName(keyPair.publicKey)).toBe(v.registrationName);
        expect(requestTopic(v.deviceId)).toBe(v.requestTopic);
        expect(replyTopic(v.deviceId)).toBe(v.replyTopic);
      });

      it("[PROTO-7] [PROTO-17] device encoder (tweetnacl) reproduces the frame byte for byte", () => {
        const frame = encodeEnrollRequest({
          keyPair,
          requestId: v.requestId,
          nonce: fromHex(v.nonce),
          timestamp: v.timestamp,
          metadata: v.metadata,
        });
        expect(toHex(frame)).toBe(v.frame);
        expect(frame.length).toBe(v.frameLength);
        expect(isDeterministic(frame)).toBe(true);
        expect(isDeterministic(fromHex(v.payload))).toBe(true);
      });

      it("[PROTO-17] node:crypto request encoder reproduces the same frame byte for byte", () => {
        const frame = encodeEnrollRequestWithNode({
          keyPair,
          requestId: v.requestId,
          nonce: fromHex(v.nonce),
          timestamp: v.timestamp,
          metadata: v.metadata,
        });
        expect(toHex(frame)).toBe(v.frame);
      });

      it("[PROTO-14] [PROTO-15] envelope parts and Sig_structure match the vector", () => {
        const parts = parseSign1(fromHex(v.frame), Number.MAX_SAFE_INTEGER);
        expect(parts.ok).toBe(true);
        if (!parts.ok) return;
        expect(toHex(parts.value.protectedBytes)).toBe(v.protectedHeader);
        expect(toHex(parts.value.payload)).toBe(v.payload);
        expect(toHex(parts.value.signature)).toBe(v.signature);
        expect(toHex(sigStructure(parts.value.protectedBytes, parts.value.payload))).toBe(v.sigStructure);
      });

      it("[PROTO-15] [PROTO-20] signature verifies over sigStructure with all three libraries", () => {
        const msg = fromHex(v.sigStructure);
        const sig = fromHex(v.signature);
        const pk = fromHex(v.publicKey);
        expect(nacl.sign.detached.verify(msg, sig, pk)).toBe(true);
        expect(naclVerify(msg, sig, pk)).toBe(true);
        expect(opensslVerify(msg, sig, pk)).toBe(true);
        expect(sodiumVerify(msg, sig, pk)).toBe(true);
      });

      it("[PROTO-20] [PROTO-24] gateway (libsodium), its tweetnacl and OpenSSL twins all accept it", () => {
        const frame = fromHex(v.frame);
        for (const decode of requestDecoders) {
          const r = decode(frame, { nowSeconds: v.timestamp, expectedDeviceId: v.deviceId });
          expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
          if (!r.ok) continue;
          expect(r.value).toEqual({
            version: 1,
            publicKey: fromHex(v.publicKey),
            deviceId: v.deviceId,
            requestId: v.requestId,
            nonce: fromHex(v.nonce),
            timestamp: v.timestamp,
            metadata: v.metadata,
          });
        }
      });
    });
  }
});

describe("reply vectors", () => {
  const gateway = createGatewaySigner(fromHex(replyVectors.gatewaySeed));
  const gatewayKey = fromHex(replyVectors.gatewayPublicKey);

  it("[PROTO-29] the gateway seed yields the pinned public key (RFC 8032 TEST 2)", () => {
    expect(toHex(gateway.publicKey)).toBe(replyVectors.gatewayPublicKey);
    expect(toHex(nacl.sign.keyPair.fromSeed(fromHex(replyVectors.gatewaySeed)).publicKey)).toBe(
      replyVectors.gatewayPublicKey,
    );
  });

  it("[PROTO-26] covers every status", () => {
    expect(new Set(replyVectors.vectors.map((v) => v.reply.status))).toEqual(
      new Set(["approved", "rejected", "pending", "deactivated", "busy", "error"]),
    );
  });

  for (const v of replyVectors.vectors) {
    describe(v.name, () => {
      it("[PROTO-7] [PROTO-25] gateway signer (libsodium) reproduces the frame byte for byte", () => {
        const frame = gateway.sign(v.reply);
        expect(toHex(frame)).toBe(v.frame);
        expect(isDeterministic(frame)).toBe(true);
        const parts = parseSign1(frame, Number.MAX_SAFE_INTEGER);
        expect(parts.ok && toHex(parts.value.payload)).toBe(v.payload);
        expect(parts.ok && toHex(sigStructure(parts.value.protectedBytes, parts.value.payload))).toBe(
          v.sigStructure,
        );
      });

      it("[PROTO-29] device (tweetnacl) and node:crypto both verify it and agree on the fields", () => {
        const frame = fromHex(v.frame);
        for (const verify of [verifyEnrollReply, verifyEnrollReplyWithNode]) {
          const r = verify(frame, gatewayKey, { deviceId: v.reply.deviceId, requestId: v.reply.requestId });
          expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
          if (r.ok) expect(r.value).toEqual(v.reply);
        }
        expect(decodeEnrollReplyUnverified(frame)).toEqual({ ok: true, value: v.reply });
      });
    });
  }
});

describe("negative vectors", () => {
  const defaultGatewayKey = fromHex(negativeVectors.gatewayPublicKey);

  it("[PROTO-36] include the flipped-bit, wrong-key, truncated and wrong-version cases", () => {
    const names = negativeVectors.vectors.map((v) => v.name);
    for (const n of [
      "req-signature-bit-flip",
      "req-wrong-key",
      "req-truncated-last-byte",
      "req-wrong-version",
      "rep-signature-bit-flip",
      "rep-wrong-gateway-key",
      "rep-truncated",
      "rep-wrong-version",
    ]) {
      expect(names).toContain(n);
    }
  });

  for (const v of negativeVectors.vectors) {
    const frame = fromHex(v.frame);
    if (v.kind === "request") {
      it(`[PROTO-24] ${v.name}: gateway and both twins return ${v.expectedError}`, () => {
        const opts = {
          nowSeconds: v.nowSeconds ?? negativeVectors.nowSeconds,
          ...(v.expectedDeviceId ? { expectedDeviceId: v.expectedDeviceId } : {}),
        };
        for (const decode of requestDecoders) {
          const r = decode(frame, opts);
          expect(r.ok ? "ok" : r.error.code, v.description).toBe(v.expectedError);
        }
      });
    } else {
      it(`[PROTO-29] ${v.name}: both implementations return ${v.expectedError}`, () => {
        const key = v.gatewayPublicKey ? fromHex(v.gatewayPublicKey) : defaultGatewayKey;
        for (const verify of [verifyEnrollReply, verifyEnrollReplyWithNode]) {
          const r = verify(frame, key);
          expect(r.ok ? "ok" : r.error.code, v.description).toBe(v.expectedError);
        }
      });
    }
  }
});
