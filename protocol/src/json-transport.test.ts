import { describe, expect, it } from "vitest";
import {
  createGatewaySigner,
  decodeEnrollRequest,
  decodeJsonEnrollReply,
  decodeJsonEnrollRequest,
  type EnrollReply,
  encodeEnrollReply,
  encodeEnrollRequest,
  encodeJsonEnrollReply,
  encodeJsonEnrollRequest,
  encodeJsonError,
  generateDeviceKeyPair,
  MAX_JSON_BODY_BYTES,
  verifyEnrollReply,
} from "./index.ts";

const NOW = 1_700_000_000;
const kp = generateDeviceKeyPair(new Uint8Array(32).fill(4));
const frame = encodeEnrollRequest({
  keyPair: kp,
  requestId: "j1",
  nonce: new Uint8Array(16),
  timestamp: NOW,
  metadata: { model: "m", firmwareVersion: "1" },
});
const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? "ok" : r.error!.code);

describe("HTTP JSON binding", () => {
  it('[PROTO-34] request body is {"request": base64(frame)} and survives JSON', () => {
    const body = JSON.parse(JSON.stringify(encodeJsonEnrollRequest(frame))) as unknown;
    expect(Object.keys(body as object)).toEqual(["request"]);
    const bytes = decodeJsonEnrollRequest(body);
    expect(bytes).toEqual({ ok: true, value: frame });
    expect(decodeEnrollRequest(bytes.ok ? bytes.value : new Uint8Array(), { nowSeconds: NOW }).ok).toBe(true);
    expect(JSON.stringify(encodeJsonEnrollRequest(frame)).length).toBeLessThan(MAX_JSON_BODY_BYTES);
  });

  it("[PROTO-34] request body errors are typed, never thrown", () => {
    const b64 = encodeJsonEnrollRequest(frame).request;
    const cases: [unknown, string][] = [
      [null, "E_WRONG_TYPE"],
      ["str", "E_WRONG_TYPE"],
      [[b64], "E_WRONG_TYPE"],
      [{}, "E_MISSING_FIELD"],
      [{ request: b64, extra: 1 }, "E_EXTRA_FIELD"],
      [{ request: 42 }, "E_WRONG_TYPE"],
      [{ request: `${b64}!` }, "E_BAD_ENCODING"],
      [{ request: b64.replace(/=+$/, "") + (b64.endsWith("=") ? "" : "A") }, "E_BAD_ENCODING"],
      [{ request: `${b64.slice(0, 4)} ${b64.slice(4)}` }, "E_BAD_ENCODING"],
      [{ request: "A".repeat(1372) }, "E_TOO_LARGE"],
    ];
    for (const [body, expected] of cases)
      expect(code(decodeJsonEnrollRequest(body)), JSON.stringify(body)?.slice(0, 40)).toBe(expected);
    expect(code(decodeJsonEnrollRequest({ request: "A".repeat(1364) }))).toBe("ok"); // 1023 bytes
    expect(code(decodeJsonEnrollRequest({ request: "A".repeat(1368) }))).toBe("E_TOO_LARGE"); // 1026 bytes
  });

  it("[PROTO-34] reply body carries the signed frame plus the decoded fields; only the frame is trusted", () => {
    const gw = createGatewaySigner(new Uint8Array(32).fill(5));
    const reply: EnrollReply = {
      version: 1,
      requestId: "j1",
      deviceId: "a".repeat(32),
      status: "pending",
      retryAfterSeconds: 30,
      timestamp: NOW,
    };
    const replyFrame = encodeEnrollReply(reply, gw);
    const body = JSON.parse(JSON.stringify(encodeJsonEnrollReply(replyFrame, reply))) as Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({ ...reply });
    expect(typeof body.reply).toBe("string");
    body.status = "approved"; // tampering with plain fields changes nothing
    const bytes = decodeJsonEnrollReply(body);
    expect(bytes.ok).toBe(true);
    const verified = verifyEnrollReply(bytes.ok ? bytes.value : new Uint8Array(), gw.publicKey);
    expect(verified.ok && verified.value.status).toBe("pending");
    expect(code(decodeJsonEnrollReply({}))).toBe("E_MISSING_FIELD");
    expect(code(decodeJsonEnrollReply({ reply: "%%" }))).toBe("E_BAD_ENCODING");
    expect(code(decodeJsonEnrollReply(7))).toBe("E_WRONG_TYPE");
  });

  it("[PROTO-34] an unverifiable request gets an unsigned error body with code and reason", () => {
    const r = decodeEnrollRequest(frame.subarray(1), { nowSeconds: NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(encodeJsonError(r.error)).toEqual({
      error: "E_WRONG_TYPE",
      reason: "Malformed",
      message: r.error.message,
    });
  });
});
