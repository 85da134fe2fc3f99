import { isValidDeviceId, parseRequestTopic, replyTopic } from "@devreg/protocol";
import type { RefusalKind } from "./refusals.ts";

/**
 * Pure ACL decisions; the session hooks (hooks.ts) only translate them. Everything not
 * explicitly allowed is refused: a device may publish only to its own request topic and
 * subscribe only to its own reply topic, exactly, with its device id as client id.
 */

/** MQTT CONNACK return codes [MQTT-3.2.2.3]. */
export const CONNACK_UNACCEPTABLE_PROTOCOL = 1;
export const CONNACK_IDENTIFIER_REJECTED = 2;
export const CONNACK_NOT_AUTHORIZED = 5;

export interface ConnectRefusal {
  kind: RefusalKind;
  returnCode: number;
  message: string;
}

export interface ConnectFacts {
  clientId: string;
  hasWill: boolean;
  /** The CONNECT's protocol level: 3 (MQTT 3.1) or 4 (3.1.1); 5 and anything else are refused. */
  protocolVersion: number;
}

/** [PROTO-5] MQTT 3.1 or 3.1.1; the MQTT client id must be a device id; wills are not allowed. */
export function checkConnect(c: ConnectFacts): ConnectRefusal | null {
  if (c.protocolVersion !== 3 && c.protocolVersion !== 4) {
    return {
      kind: "protocol_version",
      returnCode: CONNACK_UNACCEPTABLE_PROTOCOL,
      message: "unacceptable protocol version (MQTT 3.1.1 only)",
    };
  }
  if (!isValidDeviceId(c.clientId)) {
    return {
      kind: "client_id",
      returnCode: CONNACK_IDENTIFIER_REJECTED,
      message: "client id is not a device id",
    };
  }
  if (c.hasWill)
    return { kind: "will", returnCode: CONNACK_NOT_AUTHORIZED, message: "will messages are not allowed" };
  return null;
}

export interface PublishFacts {
  clientId: string;
  topic: string;
  retain: boolean;
  qos: number;
}

/** [PROTO-5] Only the client's own request topic, at QoS 0 or 1 (rule 4), never retained. */
export function checkPublish(p: PublishFacts): RefusalKind | null {
  if (!isValidDeviceId(p.clientId) || parseRequestTopic(p.topic) !== p.clientId) return "publish_topic";
  if (p.retain) return "publish_retain";
  if (p.qos > 1) return "publish_qos";
  return null;
}

/** [PROTO-5] Only the client's own reply topic, literally: no wildcard, no $SYS, nothing else. */
export function checkSubscribe(clientId: string, topicFilter: string): RefusalKind | null {
  if (!isValidDeviceId(clientId)) return "subscribe_topic";
  return topicFilter === replyTopic(clientId) ? null : "subscribe_topic";
}

/** Defence in depth for outgoing messages: a client only ever receives its own reply topic. */
export function mayForward(clientId: string, topic: string): boolean {
  return isValidDeviceId(clientId) && topic === replyTopic(clientId);
}
