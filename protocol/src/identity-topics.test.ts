import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeDeviceId } from "./gateway.ts";
import {
  canPublish,
  canSubscribe,
  decodeEnrollRequest,
  deviceIdFromPublicKey,
  deviceIdFromRegistrationName,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  isValidDeviceId,
  ProtocolError,
  parseReplyTopic,
  parseRequestTopic,
  registrationName,
  registrationNameForDeviceId,
  replyTopic,
  requestTopic,
} from "./index.ts";

const pk = generateDeviceKeyPair(new Uint8Array(32).fill(1)).publicKey;
const id = deviceIdFromPublicKey(pk);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe("identity", () => {
  it("[PROTO-1] public keys are 32 bytes; anything else is E_BAD_KEY", () => {
    expect(() => deviceIdFromPublicKey(new Uint8Array(31))).toThrow(ProtocolError);
    expect(() => registrationName(new Uint8Array(33))).toThrow(/32 bytes/);
  });

  it("[PROTO-2] deviceId is hex of SHA-512(pk)[0..16], equal with tweetnacl and node:crypto", () => {
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        expect(deviceIdFromPublicKey(key)).toBe(nodeDeviceId(key));
      }),
      { numRuns: 200 },
    );
  });

  it("[PROTO-2] isValidDeviceId accepts exactly 32 lowercase hex digits", () => {
    expect(isValidDeviceId(id)).toBe(true);
    for (const bad of [
      "",
      id.toUpperCase(),
      `${id}0`,
      id.slice(1),
      `${id.slice(1)}g`,
      `+${id.slice(1)}`,
      42 as never,
    ]) {
      expect(isValidDeviceId(bad), String(bad)).toBe(false);
    }
  });

  it("[PROTO-3] registrationName is 'dev-' + deviceId, a DNS-1123 label, stable for the same key", () => {
    const name = registrationName(pk);
    expect(name).toBe(`dev-${id}`);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS1123_LABEL);
    expect(registrationName(Uint8Array.from(pk))).toBe(name); // re-enroll: same object, same deviceUUID
    expect(registrationNameForDeviceId(id)).toBe(name);
    expect(deviceIdFromRegistrationName(name)).toBe(id);
    expect(deviceIdFromRegistrationName("dev-xyz")).toBeNull();
    expect(deviceIdFromRegistrationName(id)).toBeNull();
    expect(() => registrationNameForDeviceId("DEV")).toThrow(ProtocolError);
  });

  it("[PROTO-3] different keys give different registration names", () => {
    // Only the hash matters here, so plain 32-byte strings stand in for keys.
    const keys = Array.from({ length: 2000 }, (_, i) =>
      Uint8Array.from({ length: 32 }, (_, j) => (j < 2 ? (i >> (8 * j)) & 0xff : 0)),
    );
    expect(new Set(keys.map((k) => registrationName(k))).size).toBe(2000);
  });
});

describe("topics", () => {
  it("[PROTO-4] request and reply topics are devreg/v1/<deviceId>/enroll and /reply", () => {
    expect(requestTopic(id)).toBe(`devreg/v1/${id}/enroll`);
    expect(replyTopic(id)).toBe(`devreg/v1/${id}/reply`);
    expect(parseRequestTopic(requestTopic(id))).toBe(id);
    expect(parseReplyTopic(replyTopic(id))).toBe(id);
    expect(parseRequestTopic(replyTopic(id))).toBeNull();
    for (const t of [
      `devreg/v2/${id}/enroll`,
      `devreg/v1/${id}/enroll/x`,
      `/devreg/v1/${id}/enroll`,
      "devreg/v1/+/enroll",
      "devreg/v1/#",
      "",
    ]) {
      expect(parseRequestTopic(t), t).toBeNull();
    }
    expect(parseRequestTopic(undefined as never)).toBeNull();
  });

  it("[PROTO-4] refuses to build a topic from an invalid deviceId (no wildcard injection)", () => {
    for (const bad of ["+", "#", "a/b", id.toUpperCase()]) {
      expect(() => requestTopic(bad)).toThrow(ProtocolError);
      expect(() => replyTopic(bad)).toThrow(ProtocolError);
    }
  });

  it("[PROTO-5] a client may publish only to its own request topic and subscribe only to its own reply topic", () => {
    const other = "f".repeat(32);
    expect(canPublish(id, requestTopic(id))).toBe(true);
    expect(canPublish(id, requestTopic(other))).toBe(false);
    expect(canPublish(id, replyTopic(id))).toBe(false);
    expect(canPublish("not-a-device", requestTopic(id))).toBe(false);
    expect(canSubscribe(id, replyTopic(id))).toBe(true);
    expect(canSubscribe(id, requestTopic(id))).toBe(false);
    expect(canSubscribe(id, replyTopic(other))).toBe(false);
    for (const filter of ["devreg/v1/+/reply", "devreg/#", "#", `devreg/v1/${id}/+`]) {
      expect(canSubscribe(id, filter), filter).toBe(false);
    }
  });

  it("[PROTO-6] a request must arrive on the topic of the key that signed it", () => {
    const kp = generateDeviceKeyPair(new Uint8Array(32).fill(2));
    const frame = encodeEnrollRequest({
      keyPair: kp,
      requestId: "r",
      nonce: new Uint8Array(16),
      timestamp: 1_700_000_000,
      metadata: { model: "m", firmwareVersion: "1" },
    });
    const own = deviceIdFromPublicKey(kp.publicKey);
    const topicId = parseRequestTopic(requestTopic(own))!;
    expect(decodeEnrollRequest(frame, { nowSeconds: 1_700_000_000, expectedDeviceId: topicId }).ok).toBe(
      true,
    );
    const r = decodeEnrollRequest(frame, { nowSeconds: 1_700_000_000, expectedDeviceId: id });
    expect(r.ok ? "ok" : r.error.code).toBe("E_TOPIC_MISMATCH");
  });
});
