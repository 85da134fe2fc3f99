import { freshNamespace } from "../../kube/test-support/kube.ts";
import { setPairing } from "@devreg/operator";
import { describe, expect, it } from "vitest";
import type { GatewayHandle } from "../src/index.ts";
import { TestDevice, metric, startTestGateway, verifiedReply, waitFor, useGatewaySuite } from "./helpers.ts";

// POST /enroll: the same signed request as JSON or application/cbor, the same pipeline,
// and a status code per reply status (README "HTTP").
const t = useGatewaySuite("http");

interface JsonReply {
  reply: string;
  status: string;
  requestId: string;
  deviceId: string;
  deviceUUID?: string;
  reason?: string;
  retryAfterSeconds?: number;
}

async function postJson(
  g: GatewayHandle,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`http://127.0.0.1:${g.httpPort}/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function enrollJson(g: GatewayHandle, d: TestDevice): Promise<{ res: Response; body: JsonReply }> {
  const { frame, requestId } = d.request();
  const res = await postJson(g, { request: Buffer.from(frame).toString("base64") });
  const body = (await res.json()) as JsonReply;
  // The plain fields are a convenience; the signed frame is what counts and it must agree.
  const signed = verifiedReply(Buffer.from(body.reply, "base64"), g.publicKey, d.deviceId, requestId);
  expect(signed.status).toBe(body.status);
  expect(signed.deviceUUID).toBe(body.deviceUUID);
  return { res, body };
}

describe("POST /enroll", () => {
  it("JSON: 200 with the UUID and the signed reply", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = new TestDevice();
    const { res, body } = await enrollJson(t.gw, d);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(body).toMatchObject({ status: "approved", deviceId: d.deviceId });
    expect(body.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
    expect(
      await metric(t.gw.adminPort, "devreg_gateway_enrollments_total", {
        outcome: "approved",
        transport: "http",
      }),
    ).toBeGreaterThan(0);
  });

  it("CBOR in, CBOR out (the signed frame itself); JSON out when asked", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = new TestDevice();
    const { frame, requestId } = d.request();
    const res = await fetch(`http://127.0.0.1:${t.gw.httpPort}/enroll`, {
      method: "POST",
      headers: { "content-type": "application/cbor" },
      body: Buffer.from(frame),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/cbor");
    const reply = verifiedReply(
      new Uint8Array(await res.arrayBuffer()),
      t.gw.publicKey,
      d.deviceId,
      requestId,
    );
    expect(reply.status).toBe("approved");

    const again = d.request();
    const res2 = await fetch(`http://127.0.0.1:${t.gw.httpPort}/enroll`, {
      method: "POST",
      headers: { "content-type": "application/cbor", accept: "application/json" },
      body: Buffer.from(again.frame),
    });
    expect(res2.status).toBe(200);
    const body = (await res2.json()) as JsonReply;
    expect(body).toMatchObject({ status: "approved", deviceUUID: reply.deviceUUID });
  });

  it("403 when rejected (pairing off), with the reason", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: false });
    const { res, body } = await enrollJson(t.gw, new TestDevice());
    expect(res.status).toBe(403);
    expect(body).toMatchObject({ status: "rejected", reason: "PairingDisabled" });
  });

  it("403 when deactivated, with the kept UUID", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = new TestDevice();
    const first = await enrollJson(t.gw, d);
    expect(first.res.status).toBe(200);
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    await waitFor(
      async () =>
        (await t.env.regs.get(`dev-${d.deviceId}`)).status?.phase === "Deactivated" ? true : undefined,
      10_000,
      "Deactivated",
    );
    const { res, body } = await enrollJson(t.gw, d);
    expect(res.status).toBe(403);
    expect(body).toMatchObject({ status: "deactivated", deviceUUID: first.body.deviceUUID });
  });

  it("400 for bad input: not JSON, wrong shape, bad base64, bad CBOR, bad signature", async () => {
    const cases: Array<[string, () => Promise<Response>]> = [
      ["not JSON", () => postJson(t.gw, "{nope")],
      ["wrong shape", () => postJson(t.gw, { request: "AAAA", extra: 1 })],
      ["bad base64", () => postJson(t.gw, { request: "!!!!" })],
      ["bad CBOR", () => postJson(t.gw, { request: Buffer.from([0xff, 0xfe]).toString("base64") })],
      [
        "bad signature",
        () => {
          const f = Buffer.from(new TestDevice().request().frame);
          f[f.length - 1]! ^= 1;
          return postJson(t.gw, { request: f.toString("base64") });
        },
      ],
    ];
    for (const [what, send] of cases) {
      const res = await send();
      expect(res.status, what).toBe(400);
      // [PROTO-34] unsigned {"error": "<E_CODE>", "reason": "<Reason>", "message": "…"}
      const body = (await res.json()) as { error: string; reason: string; message: string; reply?: string };
      expect(body.error, what).toMatch(/^E_[A-Z_]+$/);
      expect(body.reason, what).toMatch(/^(Malformed|BadSignature)$/);
      expect(body.message, what).toBeTruthy();
      // No verified device id, so nothing to address a signed reply to.
      expect(body.reply, what).toBeUndefined();
    }
  });

  it("413 for an oversized body, 415 for another media type, 404 and 405 elsewhere", async () => {
    expect((await postJson(t.gw, { request: "A".repeat(10_000) })).status).toBe(413);
    const cbor = await fetch(`http://127.0.0.1:${t.gw.httpPort}/enroll`, {
      method: "POST",
      headers: { "content-type": "application/cbor" },
      body: Buffer.alloc(5_000),
    });
    expect(cbor.status).toBe(413);
    const text = await fetch(`http://127.0.0.1:${t.gw.httpPort}/enroll`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(text.status).toBe(415);
    expect((await fetch(`http://127.0.0.1:${t.gw.httpPort}/other`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${t.gw.httpPort}/enroll`)).status).toBe(405);
  });

  it("429 busy with Retry-After and a signed busy reply (gateway-wide rate exhausted)", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { publishGlobal: { ratePerSecond: 0.01, burst: 1 } },
    });
    expect((await enrollJson(g, new TestDevice())).res.status).toBe(200);
    const { res, body } = await enrollJson(g, new TestDevice());
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBe(body.retryAfterSeconds);
    expect(body).toMatchObject({ status: "busy", reason: "Busy" });
  });

  it("202 pending with Retry-After when no decision comes in time", async () => {
    // A namespace no operator watches: the registration is created and never decided. Pairing
    // open there, or the new key is refused PairingDisabled without a write (issue 14).
    const quiet = await freshNamespace(t.env.rest, "gw-http-quiet");
    await setPairing(t.env.rest, quiet, { enabled: true });
    const g = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.perTest, {
      decisionTimeoutMs: 300,
      pendingRetryAfterSeconds: 7,
    });
    const { res, body } = await enrollJson(g, new TestDevice());
    expect(res.status).toBe(202);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(body).toMatchObject({ status: "pending", retryAfterSeconds: 7 });
  });
});

describe("admin endpoints", () => {
  it("serve health, readiness and metrics on their own port, not on the device port", async () => {
    const base = `http://127.0.0.1:${t.gw.adminPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      "devreg_gateway_enrollments_total",
      "devreg_gateway_enrollment_duration_seconds_bucket",
      "devreg_gateway_connected_clients",
      "devreg_gateway_kube_writes_in_flight",
      "devreg_gateway_refusals_total",
    ]) {
      expect(text).toContain(name);
    }
    expect((await fetch(`http://127.0.0.1:${t.gw.httpPort}/metrics`)).status).toBe(404);
  });
});
