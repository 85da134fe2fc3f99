import type mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import {
  TestDevice,
  closedByBroker,
  connectOutcome,
  metric,
  startTestGateway,
  subscribeResult,
  verifiedReply,
  waitFor,
  useGatewaySuite,
} from "./helpers.ts";

// Broker security: every ACL violation is refused, counted, and never hurts other clients.
const t = useGatewaySuite("acl", { pairing: true });

const refusals = (kind: string, g = t.gw) => metric(g.adminPort, "devreg_gateway_refusals_total", { kind });

const connectError = (opts: mqtt.IClientOptions, port = t.gw.mqttPort) => connectOutcome(port, opts);

describe("CONNECT", () => {
  it.each([
    ["not a device id", "sensor-17"],
    ["an upper-case device id", "0123456789ABCDEF0123456789ABCDEF"],
    ["a wildcard", "#"],
    ["empty (broker-assigned)", ""],
  ])("refuses a client id that is %s with CONNACK 2", async (_what, clientId) => {
    const before = await refusals("client_id");
    const err = await connectError({ clientId, clean: true });
    expect(err.code).toBe(2);
    expect(await refusals("client_id")).toBe(before + 1);
  });

  it("refuses a will message with CONNACK 5", async () => {
    const d = new TestDevice();
    const err = await connectError({
      clientId: d.deviceId,
      ...d.credentials(),
      will: { topic: d.requestTopic, payload: Buffer.from("x"), qos: 0, retain: false },
    });
    expect(err.code).toBe(5);
  });
});

describe("PUBLISH", () => {
  it.each([
    ["another device's request topic", (_me: TestDevice, other: TestDevice) => other.requestTopic],
    ["its own reply topic", (me: TestDevice) => me.replyTopic],
    ["another device's reply topic", (_me: TestDevice, other: TestDevice) => other.replyTopic],
    ["$SYS", () => "$SYS/gw/new/clients"],
    ["an unrelated topic", () => "devreg/v1/broadcast"],
  ])("to %s: refused, connection closed, nothing recorded", async (_what, topicOf) => {
    const me = t.device();
    const other = t.device();
    await me.connect(t.gw.mqttPort);
    const before = await refusals("publish_topic");
    const closed = closedByBroker(me.client!);
    me.client!.publish(topicOf(me, other), Buffer.from(other.request().frame), { qos: 1 });
    await closed;
    expect(await refusals("publish_topic")).toBe(before + 1);
    await expect(t.env.regs.get(`dev-${other.deviceId}`)).rejects.toMatchObject({ code: "E_KUBE_NOT_FOUND" });
  });

  it("a retained request is refused", async () => {
    const me = t.device();
    await me.connect(t.gw.mqttPort);
    const before = await refusals("publish_retain");
    const closed = closedByBroker(me.client!);
    me.client!.publish(me.requestTopic, Buffer.from(me.request().frame), { qos: 1, retain: true });
    await closed;
    expect(await refusals("publish_retain")).toBe(before + 1);
  });
});

describe("SUBSCRIBE", () => {
  it.each([
    ["another device's reply topic", (other: TestDevice) => other.replyTopic],
    ["another device's request topic", (other: TestDevice) => other.requestTopic],
    ["#", () => "#"],
    ["+", () => "+"],
    ["$SYS/#", () => "$SYS/#"],
    ["every reply topic", () => "devreg/v1/+/reply"],
    ["every devreg topic", () => "devreg/#"],
  ])("to %s: SUBACK 0x80, connection kept, still served", async (_what, filterOf) => {
    const me = t.device();
    const other = t.device();
    await me.connect(t.gw.mqttPort);
    const before = await refusals("subscribe_topic");
    expect(await subscribeResult(me.client!, filterOf(other))).toBe(128);
    expect(await refusals("subscribe_topic")).toBe(before + 1);
    expect(me.client!.connected).toBe(true);
    expect(await me.enroll(t.gw.publicKey)).toMatchObject({ status: "approved" });
  });

  it("a wildcard subscriber never sees other devices' replies", async () => {
    const spy = t.device();
    await spy.connect(t.gw.mqttPort);
    const seen: string[] = [];
    spy.client!.on("message", (t) => seen.push(t));
    await subscribeResult(spy.client!, "#");
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    expect((await d.enroll(t.gw.publicKey)).status).toBe("approved");
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
  });
});

describe("request checks", () => {
  it("a request whose key does not match the topic's device id gets TopicMismatch, and nothing is recorded", async () => {
    const me = t.device();
    const stranger = new TestDevice();
    await me.connect(t.gw.mqttPort);
    const before = await refusals("key_mismatch");
    const { frame, requestId } = me.request({ keyPair: stranger.keyPair });
    const got = me.nextReply();
    await me.publishRaw(frame);
    const reply = verifiedReply(await got, t.gw.publicKey, me.deviceId);
    expect(reply).toMatchObject({ status: "error", reason: "TopicMismatch" });
    expect([requestId, ""]).toContain(reply.requestId);
    expect(await refusals("key_mismatch")).toBe(before + 1);
    await expect(t.env.regs.get(`dev-${stranger.deviceId}`)).rejects.toMatchObject({
      code: "E_KUBE_NOT_FOUND",
    });
  });

  it("bad CBOR gets an error reply (Malformed) while other clients keep being served", async () => {
    const bad = t.device();
    const good = Array.from({ length: 5 }, () => t.device());
    await Promise.all([bad, ...good].map((d) => d.connect(t.gw.mqttPort)));
    const garbage = [
      Buffer.from([0xff, 0x00, 0x13]),
      Buffer.alloc(0),
      Buffer.from('{"json":true}'),
      Buffer.from([0xd2, 0x84, 0x40]),
    ];
    const badReplies = garbage.map(() => bad.nextReply());
    for (const g of garbage) await bad.publishRaw(g);
    const goodReplies = await Promise.all(good.map((d) => d.enroll(t.gw.publicKey)));
    for (const frame of await Promise.all(badReplies)) {
      expect(verifiedReply(frame, t.gw.publicKey, bad.deviceId)).toMatchObject({
        status: "error",
        reason: "Malformed",
        requestId: "",
      });
    }
    expect(goodReplies.map((r) => r.status)).toEqual(good.map(() => "approved"));
    expect(bad.client!.connected).toBe(true);
    expect(await bad.enroll(t.gw.publicKey)).toMatchObject({ status: "approved" });
  });

  it("a bad signature, a stale clock and a replayed nonce are each answered with their reason", async () => {
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    const forged = d.request();
    const tampered = Buffer.from(forged.frame);
    tampered[tampered.length - 1]! ^= 0x01;
    let got = d.nextReply();
    await d.publishRaw(tampered);
    expect(verifiedReply(await got, t.gw.publicKey, d.deviceId)).toMatchObject({
      status: "error",
      reason: "BadSignature",
    });

    const stale = d.request({ timestamp: Math.floor(Date.now() / 1000) - 3_600 });
    got = d.nextReply();
    await d.publishRaw(stale.frame);
    const skew = verifiedReply(await got, t.gw.publicKey, d.deviceId);
    expect(skew).toMatchObject({ status: "error", reason: "ClockSkew" });
    expect(Math.abs(skew.timestamp - Date.now() / 1000)).toBeLessThan(30); // the device can correct its clock

    const once = d.request();
    got = d.nextReply();
    await d.publishRaw(once.frame);
    expect(verifiedReply(await got, t.gw.publicKey, d.deviceId, once.requestId).status).toBe("approved");
    const replayed = d.nextReply();
    await d.publishRaw(once.frame);
    expect(verifiedReply(await replayed, t.gw.publicKey, d.deviceId)).toMatchObject({
      status: "error",
      reason: "Replay",
    });
  });

  it("an oversized payload gets TooLarge and the connection stays; a huge packet closes it unread", async () => {
    const d = t.device();
    await d.connect(t.gw.mqttPort);
    const before = await refusals("payload_too_large");
    const got = d.nextReply();
    await d.publishRaw(Buffer.alloc(2_000, 0xa5));
    expect(verifiedReply(await got, t.gw.publicKey, d.deviceId)).toMatchObject({
      status: "error",
      reason: "TooLarge",
    });
    expect(await refusals("payload_too_large")).toBe(before + 1);
    expect(d.client!.connected).toBe(true);

    const frames = await refusals("frame_too_large");
    const closed = closedByBroker(d.client!);
    d.client!.publish(d.requestTopic, Buffer.alloc(200_000, 0xa5), { qos: 0 });
    await closed;
    expect(await refusals("frame_too_large")).toBe(frames + 1);
  });
});

describe("rate limits", () => {
  it("per client: over the limit, one signed busy with retryAfterSeconds per window; the connection stays", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { publishPerClient: { ratePerSecond: 0.01, burst: 2 } },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    expect((await d.enroll(g.publicKey)).status).toBe("approved");
    expect((await d.enroll(g.publicKey)).status).toBe("approved");
    const busy = await d.enroll(g.publicKey);
    expect(busy).toMatchObject({ status: "busy", reason: "Busy" });
    expect(busy.message).toMatch(/rate limit/);
    expect(busy.retryAfterSeconds).toBeGreaterThanOrEqual(90); // 1 token per 100 s
    // Within the same window: dropped without another reply, still connected.
    await expect(d.enroll(g.publicKey, 1_000)).rejects.toThrow(/no reply/);
    expect(d.client!.connected).toBe(true);
    expect(await refusals("publish_rate", g)).toBe(2);
  });

  it("gateway-wide: over the global rate, devices are told busy with a retry hint", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { publishGlobal: { ratePerSecond: 0.01, burst: 1 } },
    });
    const a = t.device();
    const b = t.device();
    await a.connect(g.mqttPort);
    await b.connect(g.mqttPort);
    expect((await a.enroll(g.publicKey)).status).toBe("approved");
    const shed = await b.enroll(g.publicKey);
    expect(shed).toMatchObject({ status: "busy", reason: "Busy" });
    expect(shed.message).toMatch(/rate limit/);
    expect(shed.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await refusals("global_rate", g)).toBe(1);
  });

  it("gateway-wide: frames that fail verification never spend the budget honest devices share", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { publishGlobal: { ratePerSecond: 0.01, burst: 1 } },
    });
    const attacker = t.device();
    const honest = t.device();
    await attacker.connect(g.mqttPort);
    await honest.connect(g.mqttPort);
    const err = attacker.nextReply(5_000);
    await attacker.publishRaw(Buffer.from([0xa0])); // not a COSE_Sign1: answered error, not charged
    expect(verifiedReply(await err, g.publicKey, attacker.deviceId).status).toBe("error");
    expect((await honest.enroll(g.publicKey)).status).toBe("approved");
    expect(await refusals("global_rate", g)).toBe(0);
  });

  it("connects: over the per-address rate, CONNACK 3 (server unavailable)", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { connectPerAddress: { ratePerSecond: 0.01, burst: 2 } },
    });
    await t.device().connect(g.mqttPort);
    await t.device().connect(g.mqttPort);
    const fresh = new TestDevice();
    const err = await connectError({ clientId: fresh.deviceId, ...fresh.credentials() }, g.mqttPort);
    expect(err.code).toBe(3);
    expect(await refusals("connect_rate", g)).toBe(1);
  });

  it("[PROTO-41] session takeover by the same key: allowed within the limit (logged, counted), then refused while the owner stays", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { takeoverPerClient: { ratePerSecond: 0.01, burst: 1 } },
    });
    const takeovers: string[] = [];
    g.events.on("takeover", (t) => takeovers.push(t.clientId));
    const owner = t.device();
    await owner.connect(g.mqttPort);
    const first = owner.client!;
    const kicked = closedByBroker(first);
    // The same key on a second connection (a rebooted device whose old session lingers).
    const again = new TestDevice();
    Object.assign(again, { deviceId: owner.deviceId, keyPair: owner.keyPair });
    const second = await again.connect(g.mqttPort, { subscribe: false });
    t.perTest.add(() => second.endAsync(true));
    await kicked;
    expect(takeovers).toEqual([owner.deviceId]);
    expect(await metric(g.adminPort, "devreg_gateway_session_takeovers_total")).toBe(1);

    const err = await connectError({ clientId: owner.deviceId, ...owner.credentials() }, g.mqttPort);
    expect(err.code).toBe(2);
    expect(await refusals("takeover_rate", g)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(second.connected).toBe(true);
  });
});

describe("refusals are visible", () => {
  it("every refusal kind is exported as a metric from the start", async () => {
    const text = await (await fetch(`http://127.0.0.1:${t.gw.adminPort}/metrics`)).text();
    for (const kind of [
      "client_id",
      "publish_topic",
      "subscribe_topic",
      "payload_too_large",
      "publish_rate",
      "global_rate",
    ]) {
      expect(text).toContain(`devreg_gateway_refusals_total{kind="${kind}"`);
    }
    await waitFor(async () => (await refusals("subscribe_topic")) > 0, 2_000, "subscribe refusals counted");
  });
});
