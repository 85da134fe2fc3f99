/** Device facts carried in the request and copied into the DeviceRegistration spec. */
export interface DeviceMetadata {
  model: string;
  firmwareVersion: string;
  hardwareRevision?: string;
  serialNumber?: string;
}

/** An enroll request after strict decoding and signature verification. */
export interface EnrollRequest {
  version: number;
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** deviceIdFromPublicKey(publicKey); not on the wire. */
  deviceId: string;
  requestId: string;
  nonce: Uint8Array;
  /** Device clock, unix seconds. */
  timestamp: number;
  metadata: DeviceMetadata;
}

export type ReplyStatus = "approved" | "rejected" | "pending" | "deactivated" | "busy" | "error";

export interface EnrollReply {
  version: number;
  /** The requestId this reply answers; "" only for status "error" when the request had none readable. */
  requestId: string;
  deviceId: string;
  status: ReplyStatus;
  /** Required for approved and deactivated. */
  deviceUUID?: string;
  /** Machine-readable CamelCase reason. Required for rejected and error. */
  reason?: string;
  /** Human text, at most 256 UTF-8 bytes (the encoder truncates). */
  message?: string;
  /** Required for pending and busy. */
  retryAfterSeconds?: number;
  /** Gateway clock, unix seconds. */
  timestamp: number;
}
