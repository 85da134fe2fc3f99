import { setPairing } from "@devreg/operator";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GatewayHandle } from "../src/index.ts";
import {
  Cleanup,
  type TestEnv,
  TestDevice,
  closedByBroker,
  metric,
  startTestGateway,
  startTestOperator,
  testEnv,
  verifiedReply,
  waitFor,
} from "./helpers.ts";

// Deactivation: pushed to the connected device, which is then disconnected; a later
// enroll with the same key is answered "deactivated" with the kept UUID, never a new one.
let env: TestEnv;
let gw: GatewayHandle;
const suite = new Cleanup();
const perTest = new Cleanup();

beforeAll(async () => {
  env = await testEnv("gw-deact");
  await startTestOperator(env, suite, "op-deact");
  await setPairing(env.rest, env.ns, { enabled: true });
  gw = await startTestGateway(env, suite);
});
afterEach(() => perTest.run());
afterAll(async () => {
  await suite.run();
  env.rest.close();
});

describe("deactivation", () => {
  it("pushes a signed notice to the connected device, disconnects it, and answers later enrolls with the same UUID", async () => {
    const d = new TestDevice();
    perTest.add(() => d.close());
    await d.connect(gw.mqttPort);
    const approved = await d.enroll(gw.publicKey);
    expect(approved.status).toBe("approved");

    const pushed = d.nextReply(15_000);
    const closed = closedByBroker(d.client!, 15_000);
    await env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    const notice = verifiedReply(await pushed, gw.publicKey, d.deviceId, "any-request-the-device-waits-on");
    expect(notice.requestId).toBe("");
    expect(notice.deviceUUID).toBe(approved.deviceUUID);
    // The codec allows an empty requestId only on "error" replies, so the push is
    // error/Deactivated unless the codec accepts a "deactivated" status without a request.
    expect(
      notice.status === "deactivated" || (notice.status === "error" && notice.reason === "Deactivated"),
    ).toBe(true);
    await closed;
    expect(await metric(gw.adminPort, "devreg_gateway_deactivation_pushes_total")).toBe(1);

    await waitFor(
      async () =>
        (await env.regs.get(`dev-${d.deviceId}`)).status?.phase === "Deactivated" ? true : undefined,
      10_000,
      "operator marks it Deactivated",
    );
    await d.connect(gw.mqttPort);
    const again = await d.enroll(gw.publicKey);
    expect(again).toMatchObject({
      status: "deactivated",
      deviceUUID: approved.deviceUUID,
      reason: "Deactivated",
    });
  });

  it("a device that is not connected learns at its next enroll; reactivation gives back the same UUID", async () => {
    const d = new TestDevice();
    perTest.add(() => d.close());
    await d.connect(gw.mqttPort);
    const approved = await d.enroll(gw.publicKey);
    await d.close();
    await env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    await waitFor(
      async () =>
        (await env.regs.get(`dev-${d.deviceId}`)).status?.phase === "Deactivated" ? true : undefined,
      10_000,
      "Deactivated",
    );
    await d.connect(gw.mqttPort);
    expect(await d.enroll(gw.publicKey)).toMatchObject({
      status: "deactivated",
      deviceUUID: approved.deviceUUID,
    });

    await env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: false } });
    const back = await waitFor(
      async () => {
        const r = await d.enroll(gw.publicKey);
        return r.status === "approved" ? r : undefined;
      },
      15_000,
      "reactivated",
    );
    expect(back.deviceUUID).toBe(approved.deviceUUID);
  });
});
