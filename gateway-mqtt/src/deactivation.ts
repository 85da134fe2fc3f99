import { type DeviceRegistration, LABEL_DEVICE_ID } from "@devreg/kube";
import {
  type EnrollReply,
  PROTOCOL_VERSION,
  deviceIdFromRegistrationName,
  encodeEnrollReply,
  isValidDeviceId,
} from "@devreg/protocol";
import type { GatewaySigner } from "./key-store.ts";

/** Device id of a registration: spec, then label, then the name devreg derived [PROTO-3]. */
export function deviceIdOf(reg: DeviceRegistration): string | null {
  for (const c of [reg.spec?.deviceId, reg.metadata.labels?.[LABEL_DEVICE_ID]])
    if (c && isValidDeviceId(c)) return c;
  return deviceIdFromRegistrationName(reg.metadata.name);
}

/**
 * The unsolicited "you are deactivated" message. It answers no request, so its requestId
 * is "" — but the codec accepts an empty requestId only on "error" replies [PROTO-28].
 * So: a "deactivated" reply if the codec takes it, else an "error" reply with reason
 * Deactivated (and the UUID), which devices accept for any request they wait on.
 */
export function deactivationPush(
  signer: GatewaySigner,
  deviceId: string,
  deviceUUID: string,
  reason: string,
  nowSeconds: number,
): { reply: EnrollReply; frame: Uint8Array } {
  const base = { version: PROTOCOL_VERSION, requestId: "", deviceId, deviceUUID, timestamp: nowSeconds };
  const preferred: EnrollReply = { ...base, status: "deactivated", reason };
  try {
    return { reply: preferred, frame: encodeEnrollReply(preferred, signer) };
  } catch {
    const fallback: EnrollReply = {
      ...base,
      status: "error",
      reason: "Deactivated",
      message: "device deactivated",
    };
    return { reply: fallback, frame: encodeEnrollReply(fallback, signer) };
  }
}
