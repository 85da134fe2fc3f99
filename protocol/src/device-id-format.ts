/** [PROTO-2] Shape of a deviceId: 32 lowercase hex characters. No hashing here, so either side can import it. */
const DEVICE_ID = /^[0-9a-f]{32}$/;

export function isValidDeviceId(s: string): boolean {
  return typeof s === "string" && DEVICE_ID.test(s);
}
