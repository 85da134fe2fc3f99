import { afterEach, describe, expect, it } from "vitest";
import type { GatewayHandle } from "../src/index.ts";
import { FakeApiserver } from "./fake-apiserver.ts";
import { Cleanup, TestDevice, metric, startTestGateway, verifiedReply, waitFor } from "./helpers.ts";

// Backpressure and the busy policy, against a scriptable apiserver: bounded writes, 429s
// and outages all become "busy, retry after" — and every request gets an answer.
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function setup(
  overrides: Parameters<typeof startTestGateway>[2] = {},
): Promise<{ api: FakeApiserver; gw: GatewayHandle }> {
  const api = new FakeApiserver();
  await api.start();
  cleanup.add(() => api.stop());
  const gw = await startTestGateway({ kubeconfig: api.kubeconfig, ns: "fake" }, cleanup, overrides);
  return { api, gw };
}

async function device(gw: GatewayHandle): Promise<TestDevice> {
  const d = new TestDevice();
  cleanup.add(() => d.close());
  await d.connect(gw.mqttPort);
  return d;
}

describe("bounded Kubernetes writes", () => {
  it("when every write slot is taken, the next device is told busy at once; the others are answered later", async () => {
    const { api, gw } = await setup({ decisionTimeoutMs: 30_000, limits: { maxKubeWritesInFlight: 2 } });
    api.create = { kind: "hang" };
    const [a, b, c] = [await device(gw), await device(gw), await device(gw)];
    const slow = [a.enroll(gw.publicKey), b.enroll(gw.publicKey)];
    await waitFor(() => (api.creates === 2 ? true : undefined), 5_000, "two creates in flight");
    expect(await metric(gw.adminPort, "devreg_gateway_kube_writes_in_flight")).toBe(2);

    // Answered while both writes still hang (they would until released or 30 s).
    let slowDone = false;
    void Promise.all(slow).then(() => {
      slowDone = true;
    });
    const busy = await c.enroll(gw.publicKey);
    expect(slowDone).toBe(false);
    expect(busy).toMatchObject({ status: "busy", reason: "Busy" });
    expect(busy.message).toMatch(/too many registrations/);
    expect(busy.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(api.creates).toBe(2); // no third write was attempted, nothing queued

    api.createdStatus = { phase: "Approved", deviceUUID: "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f" };
    api.releaseHung();
    // The held writes complete and their devices are answered.
    for (const r of await Promise.all(slow)) expect(r).toMatchObject({ status: "approved" });
    expect(await metric(gw.adminPort, "devreg_gateway_kube_writes_in_flight")).toBe(0);
  });

  it("a write that outlives the decision deadline is answered busy, not left hanging", async () => {
    const { api, gw } = await setup({ decisionTimeoutMs: 800 });
    api.create = { kind: "hang" };
    const d = await device(gw);
    const r = await d.enroll(gw.publicKey);
    expect(r).toMatchObject({ status: "busy", reason: "Busy" });
    expect(r.message).toMatch(/unavailable/);
  });
});

describe("apiserver trouble", () => {
  it("429 from the apiserver: busy, with the apiserver's Retry-After when larger", async () => {
    const { api, gw } = await setup({ busyRetryAfterSeconds: 2 });
    api.create = { kind: "status", code: 429, retryAfter: 30 };
    const d = await device(gw);
    const r = await d.enroll(gw.publicKey);
    expect(r).toMatchObject({ status: "busy", reason: "Busy", retryAfterSeconds: 30 });
    expect(r.message).toMatch(/throttling/);
  });

  it.each([
    ["503", { kind: "status", code: 503 } as const],
    ["a reset connection", { kind: "reset" } as const],
  ])("apiserver down (%s): busy", async (_what, behaviour) => {
    const { api, gw } = await setup();
    api.create = behaviour;
    const d = await device(gw);
    const r = await d.enroll(gw.publicKey);
    expect(r).toMatchObject({ status: "busy", reason: "Busy" });
    expect(r.message).toMatch(/unavailable/);
    expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(5);
  });

  it("HTTP POST /enroll while writes are saturated: 429 with Retry-After and the signed busy reply", async () => {
    const { api, gw } = await setup({ limits: { maxKubeWritesInFlight: 1 }, decisionTimeoutMs: 1_000 });
    api.create = { kind: "hang" };
    const a = await device(gw);
    const pending = a.enroll(gw.publicKey);
    await waitFor(() => (api.creates === 1 ? true : undefined), 5_000, "one create in flight");
    const d = new TestDevice();
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ request: Buffer.from(d.request().frame).toString("base64") }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { reply: string; status: string };
    expect(verifiedReply(Buffer.from(body.reply, "base64"), gw.publicKey, d.deviceId)).toMatchObject({
      status: "busy",
    });
    api.releaseHung();
    await pending;
  });
});
