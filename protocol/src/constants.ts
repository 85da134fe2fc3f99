import type { ReplyStatus } from "./types.ts";

export const PROTOCOL_VERSION = 1;

/** [PROTO-13] Largest request frame (the whole COSE_Sign1) a gateway accepts. */
export const MAX_REQUEST_BYTES = 1024;
/** [PROTO-13] Largest reply frame a device must accept. */
export const MAX_REPLY_BYTES = 1024;
/** [PROTO-9] Arrays and maps nest at most this deep in any data item. */
export const MAX_NESTING_DEPTH = 4;

/** [PROTO-22] Default accepted |gateway time - request timestamp|. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;
/** [PROTO-23] A nonce must be remembered while its request could still pass the skew check: 2 x skew. */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 2 * DEFAULT_MAX_SKEW_SECONDS;
export const DEFAULT_REPLAY_MAX_ENTRIES = 100_000;

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 16;

export const COSE_SIGN1_TAG = 18;
export const COSE_HEADER_ALG = 1;
export const COSE_ALG_EDDSA = -8;

export const MESSAGE_TYPE_ENROLL_REQUEST = 1;
export const MESSAGE_TYPE_ENROLL_REPLY = 2;
/** [PROTO-38] The MQTT CONNECT proof of key possession. */
export const MESSAGE_TYPE_CONNECT_PROOF = 3;

/** [PROTO-37] Largest CONNECT proof (the MQTT password) a gateway reads; a valid one is 174–178 bytes. */
export const MAX_CONNECT_PROOF_BYTES = 256;

/** [PROTO-38] CONNECT proof payload map keys. */
export const ConnectProofKey = {
  version: 1,
  messageType: 2,
  clientId: 3,
  publicKey: 4,
  nonce: 5,
  timestamp: 6,
} as const;

/** [PROTO-17] Request payload map keys. */
export const RequestKey = {
  version: 1,
  messageType: 2,
  requestId: 3,
  publicKey: 4,
  nonce: 5,
  timestamp: 6,
  model: 7,
  firmwareVersion: 8,
  hardwareRevision: 9,
  serialNumber: 10,
} as const;

/** [PROTO-25] Reply payload map keys. */
export const ReplyKey = {
  version: 1,
  messageType: 2,
  requestId: 3,
  deviceId: 4,
  status: 5,
  timestamp: 6,
  deviceUUID: 7,
  reason: 8,
  message: 9,
  retryAfterSeconds: 10,
} as const;

/** [PROTO-26] Wire value of each reply status. */
export const STATUS_CODES: Readonly<Record<ReplyStatus, number>> = {
  approved: 0,
  rejected: 1,
  pending: 2,
  deactivated: 3,
  busy: 4,
  error: 5,
};
export const STATUS_BY_CODE: readonly ReplyStatus[] = [
  "approved",
  "rejected",
  "pending",
  "deactivated",
  "busy",
  "error",
];

export const REQUEST_ID_MAX_CHARS = 36;
export const MODEL_MAX_CHARS = 64;
export const FIRMWARE_VERSION_MAX_CHARS = 32;
export const HARDWARE_REVISION_MAX_CHARS = 32;
export const SERIAL_NUMBER_MAX_CHARS = 64;
export const REASON_MAX_CHARS = 64;
export const MESSAGE_MAX_BYTES = 256;
export const RETRY_AFTER_MAX_SECONDS = 86_400;
/** Timestamps are uint; JS keeps them exact up to 2^53-1. */
export const TIMESTAMP_MAX = Number.MAX_SAFE_INTEGER;
