import { cborUint, decodeCbor, encodeCbor } from "./cbor-codec.ts";
import {
  MESSAGE_MAX_BYTES,
  MESSAGE_TYPE_ENROLL_REPLY,
  PROTOCOL_VERSION,
  REASON_MAX_CHARS,
  REQUEST_ID_MAX_CHARS,
  RETRY_AFTER_MAX_SECONDS,
  ReplyKey,
  STATUS_BY_CODE,
  STATUS_CODES,
  TIMESTAMP_MAX,
} from "./constants.ts";
import { isValidDeviceId } from "./device-id-format.ts";
import { fail, ok, type Result } from "./errors.ts";
import {
  checkVersionAndType,
  readAscii,
  readText,
  readUint,
  required,
  toIntKeyedMap,
  truncateUtf8,
} from "./payload-fields.ts";
import { REQUEST_ID_PATTERN } from "./request-payload.ts";
import type { EnrollReply, ReplyStatus } from "./types.ts";

const REPLY_KEYS: ReadonlySet<number> = new Set(Object.values(ReplyKey));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REASON = /^[A-Z][A-Za-z0-9]*$/;

/** [PROTO-26] Field each status cannot do without. */
const REQUIRED_FOR_STATUS: Record<ReplyStatus, keyof EnrollReply> = {
  approved: "deviceUUID",
  deactivated: "deviceUUID",
  pending: "retryAfterSeconds",
  busy: "retryAfterSeconds",
  rejected: "reason",
  error: "reason",
};

/** Validates in ascending key order, then the per-status rules. [PROTO-25] [PROTO-26] */
function readFields(get: (key: number) => unknown): Result<EnrollReply> {
  const idRaw = required(get, ReplyKey.requestId, "requestId");
  if (!idRaw.ok) return idRaw;
  const requestId = readAscii(idRaw.value, "requestId", 0, REQUEST_ID_MAX_CHARS);
  if (!requestId.ok) return requestId;
  if (requestId.value !== "" && !REQUEST_ID_PATTERN.test(requestId.value)) {
    return fail("E_INVALID_VALUE", "requestId has characters outside its alphabet", "requestId");
  }

  const devRaw = required(get, ReplyKey.deviceId, "deviceId");
  if (!devRaw.ok) return devRaw;
  const deviceId = readAscii(devRaw.value, "deviceId", 0, 64);
  if (!deviceId.ok) return deviceId;
  if (!isValidDeviceId(deviceId.value))
    return fail("E_INVALID_VALUE", "deviceId is not 32 hex digits", "deviceId");

  const statusRaw = required(get, ReplyKey.status, "status");
  if (!statusRaw.ok) return statusRaw;
  const statusCode = readUint(statusRaw.value, "status", Number.MAX_SAFE_INTEGER);
  if (!statusCode.ok) return statusCode;
  const status = STATUS_BY_CODE[statusCode.value];
  if (status === undefined) return fail("E_INVALID_VALUE", `unknown status ${statusCode.value}`, "status");

  const tsRaw = required(get, ReplyKey.timestamp, "timestamp");
  if (!tsRaw.ok) return tsRaw;
  const timestamp = readUint(tsRaw.value, "timestamp", TIMESTAMP_MAX);
  if (!timestamp.ok) return timestamp;

  const reply: EnrollReply = {
    version: PROTOCOL_VERSION,
    requestId: requestId.value,
    deviceId: deviceId.value,
    status,
    timestamp: timestamp.value,
  };

  const uuid = get(ReplyKey.deviceUUID);
  if (uuid !== undefined) {
    const r = readAscii(uuid, "deviceUUID", 36, 36, UUID);
    if (!r.ok) return r;
    reply.deviceUUID = r.value;
  }
  const reason = get(ReplyKey.reason);
  if (reason !== undefined) {
    const r = readAscii(reason, "reason", 1, REASON_MAX_CHARS, REASON);
    if (!r.ok) return r;
    reply.reason = r.value;
  }
  const message = get(ReplyKey.message);
  if (message !== undefined) {
    const r = readText(message, "message", MESSAGE_MAX_BYTES);
    if (!r.ok) return r;
    reply.message = r.value;
  }
  const retry = get(ReplyKey.retryAfterSeconds);
  if (retry !== undefined) {
    const r = readUint(retry, "retryAfterSeconds", RETRY_AFTER_MAX_SECONDS);
    if (!r.ok) return r;
    reply.retryAfterSeconds = r.value;
  }

  const needed = REQUIRED_FOR_STATUS[status];
  if (reply[needed] === undefined) return fail("E_MISSING_FIELD", `${status} reply needs ${needed}`, needed);
  if (reply.requestId === "" && status !== "error") {
    return fail("E_INVALID_VALUE", "only error replies may have an empty requestId", "requestId");
  }
  return ok(reply);
}

/** Strict decode of reply payload bytes. [PROTO-18] [PROTO-25] */
export function parseReplyPayload(bytes: Uint8Array): Result<EnrollReply> {
  const decoded = decodeCbor(bytes);
  if (!decoded.ok) return decoded;
  const head = checkVersionAndType(decoded.value, MESSAGE_TYPE_ENROLL_REPLY);
  if (!head.ok) return head;
  const map = toIntKeyedMap(decoded.value, REPLY_KEYS);
  if (!map.ok) return map;
  return readFields((k) => map.value.get(k));
}

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Checks a reply the way a device will; the message is first made valid and cut to size. */
export function validateEnrollReply(reply: EnrollReply): Result<EnrollReply> {
  if (reply === null || typeof reply !== "object")
    return fail("E_WRONG_TYPE", "reply must be an object", "reply");
  if (reply.version !== PROTOCOL_VERSION) {
    return fail("E_UNKNOWN_VERSION", `cannot encode version ${String(reply.version)}`, "version");
  }
  const code = Object.hasOwn(STATUS_CODES, reply.status) ? STATUS_CODES[reply.status] : undefined;
  if (code === undefined) {
    return fail("E_INVALID_VALUE", `unknown status ${String(reply.status)}`, "status");
  }
  const message =
    typeof reply.message === "string"
      ? truncateUtf8(reply.message.replace(LONE_SURROGATES, "\ufffd"), MESSAGE_MAX_BYTES)
      : reply.message;
  const input = new Map<number, unknown>([
    [ReplyKey.requestId, reply.requestId],
    [ReplyKey.deviceId, reply.deviceId],
    [ReplyKey.status, code],
    [ReplyKey.timestamp, reply.timestamp],
    [ReplyKey.deviceUUID, reply.deviceUUID],
    [ReplyKey.reason, reply.reason],
    [ReplyKey.message, message],
    [ReplyKey.retryAfterSeconds, reply.retryAfterSeconds],
  ]);
  return readFields((k) => input.get(k));
}

/** Deterministic payload bytes for a reply; throws ProtocolError on invalid input. [PROTO-7] */
export function buildReplyPayload(reply: EnrollReply): Uint8Array {
  const r = validateEnrollReply(reply);
  if (!r.ok) throw r.error;
  const v = r.value;
  const payload = new Map<number, unknown>([
    [ReplyKey.version, PROTOCOL_VERSION],
    [ReplyKey.messageType, MESSAGE_TYPE_ENROLL_REPLY],
    [ReplyKey.requestId, v.requestId],
    [ReplyKey.deviceId, v.deviceId],
    [ReplyKey.status, STATUS_CODES[v.status]],
    [ReplyKey.timestamp, cborUint(v.timestamp)],
  ]);
  if (v.deviceUUID !== undefined) payload.set(ReplyKey.deviceUUID, v.deviceUUID);
  if (v.reason !== undefined) payload.set(ReplyKey.reason, v.reason);
  if (v.message !== undefined) payload.set(ReplyKey.message, v.message);
  if (v.retryAfterSeconds !== undefined) payload.set(ReplyKey.retryAfterSeconds, v.retryAfterSeconds);
  return encodeCbor(payload);
}
