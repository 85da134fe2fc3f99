import { deviceIdFromPublicKey, generateDeviceKeyPair, replyTopic, requestTopic } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import {
  CONNACK_IDENTIFIER_REJECTED,
  CONNACK_NOT_AUTHORIZED,
  checkConnect,
  checkPublish,
  checkSubscribe,
  mayForward,
} from "./acl.ts";

const me = deviceIdFromPublicKey(generateDeviceKeyPair(new Uint8Array(32).fill(1)).publicKey);
const other = deviceIdFromPublicKey(generateDeviceKeyPair(new Uint8Array(32).fill(2)).publicKey);

describe("checkConnect [PROTO-5]", () => {
  it("accepts a device id without a will", () => {
    expect(checkConnect({ clientId: me, hasWill: false, protocolVersion: 4 })).toBeNull();
  });
  it.each(["", "aedes_123", me.toUpperCase(), `${me}0`, me.slice(1), "#", "+", `${me.slice(0, 31)}/`])(
    "refuses client id %j as identifier rejected",
    (clientId) => {
      expect(checkConnect({ clientId, hasWill: false, protocolVersion: 4 })).toMatchObject({
        kind: "client_id",
        returnCode: CONNACK_IDENTIFIER_REJECTED,
      });
    },
  );
  it.each([5, 0, 2, 6, 255])("refuses protocol level %i with CONNACK 1", (protocolVersion) => {
    expect(checkConnect({ clientId: me, hasWill: false, protocolVersion })).toMatchObject({
      kind: "protocol_version",
      returnCode: 1,
    });
  });
  it("accepts MQTT 3.1 (level 3) as well as 3.1.1", () => {
    expect(checkConnect({ clientId: me, hasWill: false, protocolVersion: 3 })).toBeNull();
  });
  it("refuses a will", () => {
    expect(checkConnect({ clientId: me, hasWill: true, protocolVersion: 4 })).toMatchObject({
      kind: "will",
      returnCode: CONNACK_NOT_AUTHORIZED,
    });
  });
});

describe("checkPublish [PROTO-5]", () => {
  it("allows only the own request topic", () => {
    expect(checkPublish({ clientId: me, topic: requestTopic(me), retain: false, qos: 1 })).toBeNull();
  });
  it.each([
    ["another device's request topic", requestTopic(other)],
    ["its own reply topic", replyTopic(me)],
    ["another device's reply topic", replyTopic(other)],
    ["$SYS", "$SYS/broker/x"],
    ["an unrelated topic", "foo/bar"],
    ["a trailing slash", `${requestTopic(me)}/`],
    ["another version", `devreg/v2/${me}/enroll`],
  ])("refuses %s", (_what, topic) => {
    expect(checkPublish({ clientId: me, topic, retain: false, qos: 1 })).toBe("publish_topic");
  });
  it("refuses retained requests", () => {
    expect(checkPublish({ clientId: me, topic: requestTopic(me), retain: true, qos: 1 })).toBe(
      "publish_retain",
    );
  });
  it("refuses QoS 2 requests (QoS 1 is the protocol's, 0 is tolerated)", () => {
    expect(checkPublish({ clientId: me, topic: requestTopic(me), retain: false, qos: 2 })).toBe(
      "publish_qos",
    );
    expect(checkPublish({ clientId: me, topic: requestTopic(me), retain: false, qos: 0 })).toBeNull();
  });
  it("refuses everything for a client id that is not a device id", () => {
    expect(checkPublish({ clientId: "x", topic: "devreg/v1/x/enroll", retain: false, qos: 1 })).toBe(
      "publish_topic",
    );
  });
});

describe("checkSubscribe [PROTO-5]", () => {
  it("allows only the own reply topic, literally", () => {
    expect(checkSubscribe(me, replyTopic(me))).toBeNull();
  });
  it.each([
    "#",
    "+",
    "$SYS/#",
    "$SYS/+/heartbeat",
    "devreg/#",
    "devreg/v1/+/reply",
    `devreg/v1/${me}/+`,
    `devreg/v1/${me}/#`,
    requestTopic(me),
    replyTopic(other),
    `$share/g/${replyTopic(me)}`,
  ])("refuses %s", (filter) => {
    expect(checkSubscribe(me, filter)).toBe("subscribe_topic");
  });
});

describe("mayForward", () => {
  it("delivers only the client's own reply topic", () => {
    expect(mayForward(me, replyTopic(me))).toBe(true);
    expect(mayForward(me, replyTopic(other))).toBe(false);
    expect(mayForward(me, "$SYS/x/heartbeat")).toBe(false);
    expect(mayForward("not-a-device", "x")).toBe(false);
  });
});
