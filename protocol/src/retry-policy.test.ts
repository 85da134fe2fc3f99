import { describe, expect, it } from "vitest";
import {
  createGatewaySigner,
  decodeEnrollRequest,
  type EnrollReply,
  encodeEnrollReply,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  retryDelaySeconds,
  verifyEnrollReply,
} from "./index.ts";

const base: EnrollReply = {
  version: 1,
  requestId: "r",
  deviceId: "a".repeat(32),
  status: "approved",
  deviceUUID: "0b9f6a2e-5c1d-4f7a-8e3b-2d4c6a8f0e1b",
  timestamp: 0,
};
const noJitter = () => 0;
const maxJitter = () => 0.999999;

describe("device retry policy", () => {
  it("[PROTO-31] approved and deactivated stop; pending and busy wait retryAfterSeconds", () => {
    expect(retryDelaySeconds(base, 0)).toBeNull();
    expect(retryDelaySeconds({ ...base, status: "deactivated" }, 0)).toBeNull();
    expect(retryDelaySeconds({ ...base, status: "pending", retryAfterSeconds: 30 }, 3, noJitter)).toBe(30);
    expect(retryDelaySeconds({ ...base, status: "busy", retryAfterSeconds: 5 }, 0, noJitter)).toBe(5);
    expect(retryDelaySeconds({ ...base, status: "busy", retryAfterSeconds: 100 }, 0, maxJitter)).toBe(110);
  });

  it("[PROTO-31] rejected waits retryAfterSeconds or 600 s; timeouts and errors back off 5 s doubling to 300 s", () => {
    expect(retryDelaySeconds({ ...base, status: "rejected", reason: "PairingDisabled" }, 0, noJitter)).toBe(
      600,
    );
    expect(
      retryDelaySeconds({ ...base, status: "rejected", reason: "X", retryAfterSeconds: 60 }, 0, noJitter),
    ).toBe(60);
    expect([0, 1, 2, 3, 6, 7, 30].map((a) => retryDelaySeconds("timeout", a, noJitter))).toEqual([
      5, 10, 20, 40, 300, 300, 300,
    ]);
    expect(retryDelaySeconds({ ...base, status: "error", reason: "Malformed" }, 1, noJitter)).toBe(10);
    expect(
      retryDelaySeconds({ ...base, status: "error", reason: "Replay", retryAfterSeconds: 2 }, 1, noJitter),
    ).toBe(2);
    expect(retryDelaySeconds("timeout", 8, maxJitter)).toBe(330);
  });

  it("[PROTO-32] after a ClockSkew error the device takes the gateway time and retries once at once", () => {
    const gw = createGatewaySigner(new Uint8Array(32).fill(3));
    const kp = generateDeviceKeyPair(new Uint8Array(32).fill(4));
    const gatewayNow = 1_700_000_000;
    const metadata = { model: "m", firmwareVersion: "1" };
    // Device boots with no RTC: timestamp 0.
    const first = encodeEnrollRequest({
      keyPair: kp,
      requestId: newRequestId(),
      nonce: newNonce(),
      timestamp: 0,
      metadata,
    });
    const rejected = decodeEnrollRequest(first, { nowSeconds: gatewayNow });
    expect(rejected.ok ? "ok" : rejected.error.code).toBe("E_CLOCK_SKEW");
    const replyFrame = encodeEnrollReply(
      {
        version: 1,
        requestId: "r0",
        deviceId: "a".repeat(32),
        status: "error",
        reason: "ClockSkew",
        timestamp: gatewayNow,
      },
      gw,
    );
    const reply = verifyEnrollReply(replyFrame, gw.publicKey);
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    expect(retryDelaySeconds(reply.value, 0)).toBe(0);
    expect(retryDelaySeconds(reply.value, 1, noJitter)).toBe(10); // only once
    const second = encodeEnrollRequest({
      keyPair: kp,
      requestId: newRequestId(),
      nonce: newNonce(),
      timestamp: reply.value.timestamp,
      metadata,
    });
    expect(decodeEnrollRequest(second, { nowSeconds: gatewayNow + 2 }).ok).toBe(true);
  });
});
