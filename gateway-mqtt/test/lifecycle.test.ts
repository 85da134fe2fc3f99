import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@devreg/kube";
import { setPairing } from "@devreg/operator";
import { startGateway } from "../src/index.ts";
import { FakeApiserver } from "./fake-apiserver.ts";
import {
  Cleanup,
  TEST_LOG_LEVEL,
  closedByBroker,
  type TestEnv,
  TestDevice,
  startTestGateway,
  testEnv,
  uuid4,
  verifiedReply,
} from "./helpers.ts";

// Start-up and graceful stop. No operator here: registrations stay undecided. Pairing is
// open, or the gateway would refuse these new keys PairingDisabled without recording them
// (issue 14), and no request would wait for a decision.
let env: TestEnv;
const perTest = new Cleanup();

beforeAll(async () => {
  env = await testEnv("gw-life");
  await setPairing(env.rest, env.ns, { enabled: true });
});
afterEach(() => perTest.run());
afterAll(() => env.rest.close());

describe("graceful stop", () => {
  it("answers waiting requests with pending, new ones with busy ShuttingDown, then closes", async () => {
    const gw = await startTestGateway(env, perTest, {
      decisionTimeoutMs: 60_000,
      stopGraceMs: 500,
      pendingRetryAfterSeconds: 3,
    });
    const waiting = new TestDevice();
    const late = new TestDevice();
    perTest.add(() => waiting.close());
    perTest.add(() => late.close());
    await waiting.connect(gw.mqttPort);
    await late.connect(gw.mqttPort);
    const { frame, requestId } = waiting.request();
    const got = waiting.nextReply(10_000);
    await waiting.publishRaw(frame);
    await new Promise((r) => setTimeout(r, 300)); // it is now waiting for a decision

    const t0 = performance.now();
    const stopped = gw.stop();
    const lateReply = late.nextReply(5_000);
    const lateReq = late.request();
    await late.publishRaw(lateReq.frame);
    expect(verifiedReply(await lateReply, gw.publicKey, late.deviceId, lateReq.requestId)).toMatchObject({
      status: "busy",
      reason: "Busy",
      message: expect.stringMatching(/shutting down/),
    });
    const ready = await fetch(`http://127.0.0.1:${gw.adminPort}/readyz`).catch(() => undefined);
    if (ready) expect(ready.status).toBe(503);

    expect(verifiedReply(await got, gw.publicKey, waiting.deviceId, requestId)).toMatchObject({
      status: "pending",
      retryAfterSeconds: 3,
    });
    await stopped;
    expect(performance.now() - t0).toBeLessThan(30_000); // far below the 60 s decision timeout
    const afterStop = new TestDevice();
    await expect(
      mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
        ...afterStop.credentials(),
        clientId: afterStop.deviceId,
        reconnectPeriod: 0,
        connectTimeout: 1_000,
      }),
    ).rejects.toThrow();
    await gw.stop(); // idempotent
  });
});

describe("start-up", () => {
  it("generates the key file once (mode 0600) and reuses it", async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), "devreg-gwkey-")), "sub", "gateway.pem");
    const first = await startTestGateway(env, perTest, { keyFile });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    await first.stop();
    const second = await startTestGateway(env, perTest, { keyFile });
    expect(Buffer.from(second.publicKey)).toEqual(Buffer.from(first.publicKey));
  });

  it("refuses bad options with E_GW_CONFIG", async () => {
    await expect(startGateway({ gatewayId: "not a label!", namespace: env.ns })).rejects.toMatchObject({
      code: "E_GW_CONFIG",
    });
  });

  it("fails with E_GW_KUBE_UNAVAILABLE when registrations cannot be listed, and frees its ports", async () => {
    const api = new FakeApiserver();
    await api.start();
    await api.stop(); // nothing listens there any more
    const adminPort = await freePort();
    const opts = {
      kubeconfig: api.kubeconfig,
      namespace: "nowhere",
      gatewayId: "gw-down",
      mqtt: { host: "127.0.0.1", port: 0 },
      http: false as const,
      admin: { host: "127.0.0.1", port: adminPort },
      syncTimeoutMs: 1_000,
      logLevel: TEST_LOG_LEVEL,
    };
    await expect(startGateway(opts)).rejects.toMatchObject({ code: "E_GW_KUBE_UNAVAILABLE" });
    // The admin port it had bound is free again.
    await expect(startGateway(opts)).rejects.toMatchObject({ code: "E_GW_KUBE_UNAVAILABLE" });
  });
});

describe("pending, then decided (SPEC §14.3)", () => {
  it("after a pending answer the decision is published with the same requestId while the device listens", async () => {
    const gw = await startTestGateway(env, perTest, { decisionTimeoutMs: 300 });
    const d = new TestDevice();
    perTest.add(() => d.close());
    await d.connect(gw.mqttPort);
    const { frame, requestId } = d.request();
    const first = d.nextReply();
    await d.publishRaw(frame);
    expect(verifiedReply(await first, gw.publicKey, d.deviceId, requestId)).toMatchObject({
      status: "pending",
      reason: "Pending",
    });
    const later = d.nextReply();
    const uuid = uuid4();
    await env.regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid });
    expect(verifiedReply(await later, gw.publicKey, d.deviceId, requestId)).toMatchObject({
      status: "approved",
      deviceUUID: uuid,
    });
  });

  it("[PROTO-5a] after a late approval the device keeps its session; after a late rejection it is closed soon", async () => {
    const gw = await startTestGateway(env, perTest, {
      decisionTimeoutMs: 300,
      mqtt: { host: "127.0.0.1", port: 0, closeAfterFinalReplyMs: 300, idleTimeoutMs: 1_000 },
    });
    const approved = new TestDevice();
    const rejected = new TestDevice();
    perTest.add(() => approved.close());
    perTest.add(() => rejected.close());
    for (const d of [approved, rejected]) {
      await d.connect(gw.mqttPort);
      const first = d.nextReply();
      await d.publishRaw(d.request().frame);
      expect(verifiedReply(await first, gw.publicKey, d.deviceId).status).toBe("pending");
    }
    const lateApproval = approved.nextReply();
    const lateRejection = rejected.nextReply();
    const rejectedClosed = closedByBroker(rejected.client!, 3_000);
    await env.regs.patchStatus(`dev-${approved.deviceId}`, { phase: "Approved", deviceUUID: uuid4() });
    await env.regs.patchStatus(`dev-${rejected.deviceId}`, {
      phase: "Rejected",
      reason: "DeniedByAdmin",
      message: "denied",
      decidedBy: "admin:test",
    });
    expect(verifiedReply(await lateApproval, gw.publicKey, approved.deviceId).status).toBe("approved");
    expect(verifiedReply(await lateRejection, gw.publicKey, rejected.deviceId).status).toBe("rejected");
    await rejectedClosed;
    // Past closeAfterFinalReplyMs and idleTimeoutMs: an approved device may stay to hear a deactivation.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(approved.client?.connected).toBe(true);
  });
});
