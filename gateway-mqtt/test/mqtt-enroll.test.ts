import { LABEL_DEVICE_ID, LABEL_GATEWAY } from "@devreg/kube";
import { setPairing } from "@devreg/operator";
import { describe, expect, it } from "vitest";
import { closedByBroker, metric, startTestGateway, subscribeResult, useGatewaySuite } from "./helpers.ts";

// Enrollment over MQTT against the real apiserver and the real operator.
const t = useGatewaySuite("enroll");

describe("enroll over MQTT (real operator)", () => {
  it("approves while pairing is open: signed reply with a UUID on the device's reply topic", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    const reply = await d.enroll(t.gw.publicKey);
    expect(reply).toMatchObject({ status: "approved", deviceId: d.deviceId });
    expect(reply.deviceUUID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const reg = await t.env.regs.get(`dev-${d.deviceId}`);
    expect(reg.metadata.labels).toMatchObject({
      [LABEL_DEVICE_ID]: d.deviceId,
      [LABEL_GATEWAY]: t.gw.gatewayId,
    });
    expect(reg.spec).toMatchObject({
      publicKey: Buffer.from(d.keyPair.publicKey).toString("base64"),
      deviceId: d.deviceId,
      model: "test-mcu",
      firmwareVersion: "1.0.0",
      serialNumber: `SN-${d.deviceId.slice(0, 8)}`,
    });
    expect(reg.status?.deviceUUID).toBe(reply.deviceUUID);
    expect(
      await metric(t.gw.adminPort, "devreg_gateway_enrollments_total", {
        outcome: "approved",
        transport: "mqtt",
      }),
    ).toBeGreaterThan(0);
  });

  it("re-enroll returns the same UUID, at once, without a second registration", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    const first = await d.enroll(t.gw.publicKey);
    expect(first.status).toBe("approved");
    const again = await d.enroll(t.gw.publicKey);
    // SPEC §14.4: same UUID, reason AlreadyEnrolled.
    expect(again).toMatchObject({
      status: "approved",
      deviceUUID: first.deviceUUID,
      reason: "AlreadyEnrolled",
    });
    expect(first.reason).toBeUndefined();
    // And after a reconnect, too.
    await d.close();
    await d.connect(t.gw.mqttPort);
    expect(await d.enroll(t.gw.publicKey)).toMatchObject({
      status: "approved",
      deviceUUID: first.deviceUUID,
    });
    const list = await t.env.regs.list({ labelSelector: `${LABEL_DEVICE_ID}=${d.deviceId}` });
    expect(list.items).toHaveLength(1);
  });

  it("rejects while pairing is closed (PairingDisabled), and approves the same device once a window is open (not sticky)", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: false });
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    const reply = await d.enroll(t.gw.publicKey);
    expect(reply).toMatchObject({ status: "rejected", reason: "PairingDisabled", deviceId: d.deviceId });
    expect(reply.deviceUUID).toBeUndefined();
    // PairingDisabled is not sticky (issue 14): no admin action, the next request in a window is approved.
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    await new Promise((r) => setTimeout(r, 300)); // the gateway's watch sees the window
    expect(await d.enroll(t.gw.publicKey)).toMatchObject({ status: "approved", deviceId: d.deviceId });
  });

  it("serves many devices concurrently, each on its own reply topic", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const devices = Array.from({ length: 20 }, () => t.device());
    await Promise.all(devices.map((d) => d.connect(t.gw.mqttPort)));
    const replies = await Promise.all(devices.map((d) => d.enroll(t.gw.publicKey)));
    expect(replies.map((r) => r.status)).toEqual(devices.map(() => "approved"));
    expect(new Set(replies.map((r) => r.deviceUUID)).size).toBe(20);
  });

  it("speaks MQTT over WebSocket with the same ACL and replies", async () => {
    const wsGw = await startTestGateway(t.env, t.perTest, { ws: { host: "127.0.0.1", port: 0 } });
    await setPairing(t.env.rest, t.env.ns, { enabled: true });
    const d = t.device();
    await d.connect(0, { url: `ws://127.0.0.1:${wsGw.wsPort}/mqtt` });
    expect(await d.enroll(wsGw.publicKey)).toMatchObject({ status: "approved" });
    const intruder = t.device();
    await intruder.connect(0, { url: `ws://127.0.0.1:${wsGw.wsPort}/mqtt`, subscribe: false });
    expect(await subscribeResult(intruder.client!, d.replyTopic)).toBe(128);
    // The frame guard holds over WebSocket too: an oversized packet closes the session, counted.
    const frames = () => metric(wsGw.adminPort, "devreg_gateway_refusals_total", { kind: "frame_too_large" });
    const before = await frames();
    const closed = closedByBroker(d.client!);
    d.client!.publish(d.requestTopic, Buffer.alloc(200_000, 0xa5), { qos: 0 });
    await closed;
    expect(await frames()).toBe(before + 1);
    // A reconnect storm outrunning the accept queue shows on /metrics (mqtt.listenBacklog).
    const text = await (await fetch(`http://127.0.0.1:${wsGw.adminPort}/metrics`)).text();
    expect(text).toMatch(/^devreg_gateway_listen_overflows\{[^}]*\} \d+$/m);
  });
});
