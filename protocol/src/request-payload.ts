import { cborUint, decodeCbor, encodeCbor } from "./cbor-codec.ts";
import {
  FIRMWARE_VERSION_MAX_CHARS,
  HARDWARE_REVISION_MAX_CHARS,
  MESSAGE_TYPE_ENROLL_REQUEST,
  MODEL_MAX_CHARS,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  PUBLIC_KEY_BYTES,
  REQUEST_ID_MAX_CHARS,
  RequestKey,
  SERIAL_NUMBER_MAX_CHARS,
  TIMESTAMP_MAX,
} from "./constants.ts";
import { isSmallOrderKey } from "./ed25519-rules.ts";
import { fail, ok, type Result } from "./errors.ts";
import {
  checkVersionAndType,
  readAscii,
  readBytes,
  readUint,
  required,
  toIntKeyedMap,
} from "./payload-fields.ts";
import type { DeviceMetadata } from "./types.ts";

/** Request payload fields; deviceId is derived later from publicKey. [PROTO-17] */
export interface RequestFields {
  requestId: string;
  publicKey: Uint8Array;
  nonce: Uint8Array;
  timestamp: number;
  metadata: DeviceMetadata;
}

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
const REQUEST_KEYS: ReadonlySet<number> = new Set(Object.values(RequestKey));

export function readRequestId(v: unknown): Result<string> {
  return readAscii(v, "requestId", 1, REQUEST_ID_MAX_CHARS, REQUEST_ID_PATTERN);
}

/** 32 bytes and not a small-order point. [PROTO-20] */
export function readPublicKey(v: unknown, field = "publicKey"): Result<Uint8Array> {
  const r = readBytes(v, field);
  if (!r.ok) return r;
  if (r.value.length !== PUBLIC_KEY_BYTES)
    return fail("E_BAD_KEY", `${field} must be ${PUBLIC_KEY_BYTES} bytes`, field);
  if (isSmallOrderKey(r.value)) return fail("E_BAD_KEY", `${field} is a small-order point`, field);
  return r;
}

/** Required 16-byte nonce under `key`. [PROTO-17] [PROTO-21] */
export function readNonce(get: (key: number) => unknown, key: number): Result<Uint8Array> {
  const raw = required(get, key, "nonce");
  if (!raw.ok) return raw;
  const nonce = readBytes(raw.value, "nonce");
  if (!nonce.ok) return nonce;
  if (nonce.value.length !== NONCE_BYTES)
    return fail("E_INVALID_VALUE", `nonce must be ${NONCE_BYTES} bytes`, "nonce");
  return nonce;
}

/** Required uint timestamp (0 … 2^53-1) under `key`. [PROTO-17] */
export function readTimestamp(get: (key: number) => unknown, key: number): Result<number> {
  const raw = required(get, key, "timestamp");
  if (!raw.ok) return raw;
  return readUint(raw.value, "timestamp", TIMESTAMP_MAX);
}

/**
 * Validates in ascending key order, so the first failing key decides the error.
 * `get` reads a payload key from either a decoded map or caller input.
 */
function readFields(get: (key: number) => unknown): Result<RequestFields> {
  const idRaw = required(get, RequestKey.requestId, "requestId");
  if (!idRaw.ok) return idRaw;
  const requestId = readRequestId(idRaw.value);
  if (!requestId.ok) return requestId;

  const pkRaw = required(get, RequestKey.publicKey, "publicKey");
  if (!pkRaw.ok) return pkRaw;
  const publicKey = readPublicKey(pkRaw.value);
  if (!publicKey.ok) return publicKey;

  const nonce = readNonce(get, RequestKey.nonce);
  if (!nonce.ok) return nonce;
  const timestamp = readTimestamp(get, RequestKey.timestamp);
  if (!timestamp.ok) return timestamp;

  const modelRaw = required(get, RequestKey.model, "model");
  if (!modelRaw.ok) return modelRaw;
  const model = readAscii(modelRaw.value, "model", 1, MODEL_MAX_CHARS);
  if (!model.ok) return model;

  const fwRaw = required(get, RequestKey.firmwareVersion, "firmwareVersion");
  if (!fwRaw.ok) return fwRaw;
  const firmwareVersion = readAscii(fwRaw.value, "firmwareVersion", 1, FIRMWARE_VERSION_MAX_CHARS);
  if (!firmwareVersion.ok) return firmwareVersion;

  const metadata: DeviceMetadata = { model: model.value, firmwareVersion: firmwareVersion.value };
  const hw = get(RequestKey.hardwareRevision);
  if (hw !== undefined) {
    const r = readAscii(hw, "hardwareRevision", 1, HARDWARE_REVISION_MAX_CHARS);
    if (!r.ok) return r;
    metadata.hardwareRevision = r.value;
  }
  const serial = get(RequestKey.serialNumber);
  if (serial !== undefined) {
    const r = readAscii(serial, "serialNumber", 1, SERIAL_NUMBER_MAX_CHARS);
    if (!r.ok) return r;
    metadata.serialNumber = r.value;
  }
  return ok({
    requestId: requestId.value,
    publicKey: publicKey.value,
    nonce: nonce.value,
    timestamp: timestamp.value,
    metadata,
  });
}

/** Strict decode of request payload bytes. [PROTO-17] [PROTO-18] [PROTO-19] */
export function parseRequestPayload(bytes: Uint8Array): Result<RequestFields> {
  const decoded = decodeCbor(bytes);
  if (!decoded.ok) return decoded;
  const head = checkVersionAndType(decoded.value, MESSAGE_TYPE_ENROLL_REQUEST);
  if (!head.ok) return head;
  const map = toIntKeyedMap(decoded.value, REQUEST_KEYS);
  if (!map.ok) return map;
  return readFields((k) => map.value.get(k));
}

/** Deterministic payload bytes for an outgoing request; throws ProtocolError on bad input. [PROTO-7] */
export function buildRequestPayload(fields: RequestFields): Uint8Array {
  const m: Partial<DeviceMetadata> = fields.metadata ?? {};
  const input = new Map<number, unknown>([
    [RequestKey.requestId, fields.requestId],
    [RequestKey.publicKey, fields.publicKey],
    [RequestKey.nonce, fields.nonce],
    [RequestKey.timestamp, fields.timestamp],
    [RequestKey.model, m.model],
    [RequestKey.firmwareVersion, m.firmwareVersion],
    [RequestKey.hardwareRevision, m.hardwareRevision],
    [RequestKey.serialNumber, m.serialNumber],
  ]);
  const r = readFields((k) => input.get(k));
  if (!r.ok) throw r.error;
  const v = r.value;
  // Insertion order is ascending key order, which cbor-x preserves: RFC 8949 §4.2.1 order.
  const payload = new Map<number, unknown>([
    [RequestKey.version, PROTOCOL_VERSION],
    [RequestKey.messageType, MESSAGE_TYPE_ENROLL_REQUEST],
    [RequestKey.requestId, v.requestId],
    [RequestKey.publicKey, v.publicKey],
    [RequestKey.nonce, v.nonce],
    [RequestKey.timestamp, cborUint(v.timestamp)],
    [RequestKey.model, v.metadata.model],
    [RequestKey.firmwareVersion, v.metadata.firmwareVersion],
  ]);
  if (v.metadata.hardwareRevision !== undefined)
    payload.set(RequestKey.hardwareRevision, v.metadata.hardwareRevision);
  if (v.metadata.serialNumber !== undefined) payload.set(RequestKey.serialNumber, v.metadata.serialNumber);
  return encodeCbor(payload);
}
