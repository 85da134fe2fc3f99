import { isValidDeviceId } from "./device-id-format.ts";
import { ProtocolError } from "./errors.ts";

/**
 * [PROTO-4] Each device owns exactly two topics, named by its deviceId. The "v1" segment
 * is the protocol major version (SPEC §10), so a future version gets its own namespace.
 */
const TOPIC_PREFIX = "devreg/v1/";
const REQUEST_TOPIC = /^devreg\/v1\/([0-9a-f]{32})\/enroll$/;
const REPLY_TOPIC = /^devreg\/v1\/([0-9a-f]{32})\/reply$/;

function checkId(deviceId: string): void {
  // Refuse to build a topic from an unchecked id: "+" or "#" would turn it into a wildcard.
  if (!isValidDeviceId(deviceId)) throw new ProtocolError("E_INVALID_VALUE", "invalid deviceId", "deviceId");
}

export function requestTopic(deviceId: string): string {
  checkId(deviceId);
  return `${TOPIC_PREFIX}${deviceId}/enroll`;
}

export function replyTopic(deviceId: string): string {
  checkId(deviceId);
  return `${TOPIC_PREFIX}${deviceId}/reply`;
}

/** deviceId from a request topic, or null for any other topic. */
export function parseRequestTopic(topic: string): string | null {
  if (typeof topic !== "string") return null;
  return REQUEST_TOPIC.exec(topic)?.[1] ?? null;
}

export function parseReplyTopic(topic: string): string | null {
  if (typeof topic !== "string") return null;
  return REPLY_TOPIC.exec(topic)?.[1] ?? null;
}

/**
 * [PROTO-5] Broker ACL: the MQTT client id must be the deviceId, and a client may publish
 * only to its own request topic and subscribe only to its own reply topic (no wildcards).
 */
export function canPublish(clientId: string, topic: string): boolean {
  return isValidDeviceId(clientId) && parseRequestTopic(topic) === clientId;
}

export function canSubscribe(clientId: string, topicFilter: string): boolean {
  return isValidDeviceId(clientId) && parseReplyTopic(topicFilter) === clientId;
}
