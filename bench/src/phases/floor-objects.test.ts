import { deviceIdFromPublicKey } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import { floorApproval, floorRegistration } from "./floor-objects.ts";

describe("floor objects", () => {
  it("are shaped like the gateway's registrations: dev-<deviceId of the key>, labels, spec", () => {
    const r = floorRegistration("ns");
    const key = new Uint8Array(Buffer.from(r.spec.publicKey, "base64"));
    expect(r.metadata.name).toBe(`dev-${deviceIdFromPublicKey(key)}`);
    expect(r.spec.deviceId).toBe(deviceIdFromPublicKey(key));
    expect(r.metadata.labels?.["devices.example.com/device-id"]).toBe(r.spec.deviceId);
    expect(floorRegistration("ns").metadata.name).not.toBe(r.metadata.name);
  });

  it("approve like the operator: phase, UUID and an Approved condition", () => {
    const s = floorApproval(new Date("2025-01-01T00:00:00Z"));
    expect(s.phase).toBe("Approved");
    expect(s.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.conditions?.[0]).toMatchObject({
      type: "Approved",
      status: "True",
      lastTransitionTime: "2025-01-01T00:00:00Z",
    });
  });
});
