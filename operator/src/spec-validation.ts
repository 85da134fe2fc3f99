import type { DeviceRegistration } from "@devreg/kube";
import { deviceIdFromRegistrationName, registrationNameForDeviceId } from "@devreg/protocol";

/** Derives the protocol's deviceId from a raw public key ([PROTO-2], @devreg/protocol). */
export type DeviceIdOf = (publicKey: Uint8Array) => string;

export type SpecCheck =
  | { ok: true; publicKey: Uint8Array; deviceId?: string }
  | { ok: false; problems: string[] };

const BASE64_32 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const STRING_FIELDS = ["deviceId", "model", "firmwareVersion", "hardwareRevision", "serialNumber"] as const;

/**
 * Pure: is this registration's spec something the operator may approve? The CRD schema already
 * checks shapes; this re-checks them (a CRD can be edited or applied without validation) and adds
 * what a schema cannot: deviceId must be the fingerprint of publicKey, and a gateway-style name
 * must be `dev-<that fingerprint>` (one key, one name, one UUID).
 */
export function validateSpec(reg: DeviceRegistration, deviceIdOf: DeviceIdOf): SpecCheck {
  const problems: string[] = [];
  const spec = reg.spec as Partial<DeviceRegistration["spec"]> | undefined;
  if (!spec || typeof spec !== "object") return { ok: false, problems: ["spec is missing"] };
  const pk = spec.publicKey;
  let publicKey: Uint8Array | undefined;
  if (typeof pk !== "string" || pk === "") problems.push("spec.publicKey is missing");
  else if (!BASE64_32.test(pk)) problems.push("spec.publicKey is not 32 bytes of padded standard base64");
  else publicKey = new Uint8Array(Buffer.from(pk, "base64"));

  for (const f of STRING_FIELDS) {
    const v = spec[f];
    if (v !== undefined && typeof v !== "string") problems.push(`spec.${f} must be a string`);
  }
  if (spec.deactivate !== undefined && typeof spec.deactivate !== "boolean")
    problems.push("spec.deactivate must be a boolean");

  let fingerprint: string | undefined;
  if (publicKey) {
    try {
      fingerprint = deviceIdOf(publicKey);
    } catch (e) {
      problems.push(`spec.publicKey is not usable: ${(e as Error).message}`);
    }
  }
  if (fingerprint !== undefined) {
    if (typeof spec.deviceId === "string" && spec.deviceId !== fingerprint) {
      problems.push(
        `spec.deviceId ${spec.deviceId} is not the fingerprint of spec.publicKey (${fingerprint})`,
      );
    }
    // A name in the gateway's form ([PROTO-3]: "dev-" + a deviceId) must name this key's deviceId.
    const name = reg.metadata.name;
    const named = deviceIdFromRegistrationName(name);
    if (named !== null && named !== fingerprint) {
      problems.push(
        `name ${name} does not match the key fingerprint (want ${registrationNameForDeviceId(fingerprint)})`,
      );
    }
  }
  if (problems.length > 0 || !publicKey) return { ok: false, problems };
  return { ok: true, publicKey, deviceId: fingerprint };
}
