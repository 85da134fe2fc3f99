import { type DeviceMetadata, encodeEnrollRequest, generateDeviceKeyPair } from "@devreg/protocol";
import { SimError } from "./errors.ts";

/**
 * Throws SimError E_BAD_OPTION if the codec would refuse this metadata (too long, bad
 * characters). Checked once up front, because the codec is the only authority on the
 * limits and a fleet should fail before it spawns thousands of devices, not in each one.
 */
export function checkMetadata(metadata: DeviceMetadata): void {
  try {
    encodeEnrollRequest({
      keyPair: generateDeviceKeyPair(new Uint8Array(32).fill(7)),
      requestId: "metadata-check",
      nonce: new Uint8Array(16),
      timestamp: 0,
      metadata,
    });
  } catch (err) {
    const e = err as { field?: string; message?: string };
    throw new SimError(
      "E_BAD_OPTION",
      `invalid device metadata${e.field ? ` (${e.field})` : ""}: ${e.message ?? String(err)}`,
    );
  }
}
