import nacl from "tweetnacl";
import { PUBLIC_KEY_BYTES } from "./constants.ts";
import { isValidDeviceId } from "./device-id-format.ts";
import { ProtocolError } from "./errors.ts";
import { toHex } from "./hex.ts";

export { isValidDeviceId };

/**
 * [PROTO-2] deviceId = lowercase hex of the first 16 bytes of SHA-512(publicKey): 32 chars.
 * SHA-512 because every Ed25519 implementation already contains it (RFC 8032), so a
 * device needs no second hash. 128 bits keeps accidental collisions out of reach for any
 * fleet size, and [0-9a-f] is safe in MQTT topics, client ids and Kubernetes names.
 */
export function deviceIdFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new ProtocolError("E_BAD_KEY", `public key must be ${PUBLIC_KEY_BYTES} bytes`, "publicKey");
  }
  return toHex(nacl.hash(publicKey).subarray(0, 16));
}

const REGISTRATION_NAME_PREFIX = "dev-";

/**
 * [PROTO-3] Kubernetes name of the DeviceRegistration for this key: "dev-" + deviceId,
 * 36 chars, a DNS-1123 label. One key maps to one name, which is what makes re-enrollment
 * idempotent (same key, same object, same deviceUUID).
 */
export function registrationName(publicKey: Uint8Array): string {
  return REGISTRATION_NAME_PREFIX + deviceIdFromPublicKey(publicKey);
}

export function registrationNameForDeviceId(deviceId: string): string {
  if (!isValidDeviceId(deviceId)) throw new ProtocolError("E_INVALID_VALUE", "invalid deviceId", "deviceId");
  return REGISTRATION_NAME_PREFIX + deviceId;
}

/** Inverse of registrationNameForDeviceId; null for names devreg did not derive. */
export function deviceIdFromRegistrationName(name: string): string | null {
  if (typeof name !== "string" || !name.startsWith(REGISTRATION_NAME_PREFIX)) return null;
  const id = name.slice(REGISTRATION_NAME_PREFIX.length);
  return isValidDeviceId(id) ? id : null;
}
