import { randomBytes, randomUUID } from "node:crypto";
import {
  type DeviceRegistration,
  type DeviceRegistrationStatus,
  LABEL_DEVICE_ID,
  LABEL_GATEWAY,
  rfc3339,
} from "@devreg/kube";
import { deviceIdFromPublicKey, registrationName } from "@devreg/protocol";

/**
 * The floor writes the same objects devreg writes (gateway-style name, labels and spec;
 * the operator's approval status with its condition), so the comparison measures devreg's
 * machinery, not a difference in object size. Pure apart from the random key and UUID.
 */
export function floorRegistration(namespace: string): Omit<DeviceRegistration, "apiVersion" | "kind"> {
  const publicKey = new Uint8Array(randomBytes(32));
  const deviceId = deviceIdFromPublicKey(publicKey);
  return {
    metadata: {
      name: registrationName(publicKey),
      namespace,
      labels: { [LABEL_DEVICE_ID]: deviceId, [LABEL_GATEWAY]: "bench-floor" },
    },
    spec: {
      publicKey: Buffer.from(publicKey).toString("base64"),
      deviceId,
      model: "devreg-sim",
      firmwareVersion: "0.1.0",
    },
  };
}

/** An approval status of the operator's shape (decide.ts), with a fresh UUID. */
export function floorApproval(now = new Date()): DeviceRegistrationStatus {
  const deviceUUID = randomUUID();
  const message = `approved with UUID ${deviceUUID}: the pairing window is open (no expiry)`;
  const at = rfc3339(now);
  return {
    phase: "Approved",
    reason: "PairingWindowOpen",
    message,
    deviceUUID,
    decidedBy: "pairing-window",
    decidedAt: at,
    observedGeneration: 1,
    conditions: [
      {
        type: "Approved",
        status: "True",
        reason: "PairingWindowOpen",
        message,
        lastTransitionTime: at,
        observedGeneration: 1,
      },
    ],
  };
}
