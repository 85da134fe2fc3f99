import { randomBytes } from "node:crypto";
import type { DeviceRegistration, Phase } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import { KeyIndex, keyOwner } from "./key-owner.ts";

const key = randomBytes(32);
const pk = key.toString("base64");
const canonical = `dev-${deviceIdFromPublicKey(new Uint8Array(key))}`;

function reg(name: string, created: string, phase?: Phase, uuid?: string): DeviceRegistration {
  return {
    apiVersion: "devices.example.com/v1alpha1",
    kind: "DeviceRegistration",
    metadata: { name, namespace: "ns", creationTimestamp: created },
    spec: { publicKey: pk },
    status: phase ? { phase, deviceUUID: uuid } : undefined,
  };
}

describe("keyOwner", () => {
  it("prefers the registration that already holds a UUID", () => {
    const owner = keyOwner(
      [reg(canonical, "2025-01-01T00:00:00Z"), reg("later", "2025-02-01T00:00:00Z", "Deactivated", "u")],
      deviceIdFromPublicKey,
    );
    expect(owner).toBe("later");
  });

  it("then the gateway's canonical name, then the oldest, then name order", () => {
    expect(
      keyOwner(
        [reg("a-old", "2025-01-01T00:00:00Z"), reg(canonical, "2025-03-01T00:00:00Z")],
        deviceIdFromPublicKey,
      ),
    ).toBe(canonical);
    expect(
      keyOwner([reg("b", "2025-02-01T00:00:00Z"), reg("c", "2025-01-01T00:00:00Z")], deviceIdFromPublicKey),
    ).toBe("c");
    expect(
      keyOwner([reg("y", "2025-01-01T00:00:00Z"), reg("x", "2025-01-01T00:00:00Z")], deviceIdFromPublicKey),
    ).toBe("x");
  });

  it("is independent of input order (workers and replicas agree)", () => {
    const all = [
      reg("p", "2025-01-02T00:00:00Z"),
      reg("q", "2025-01-01T00:00:00Z"),
      reg("r", "2025-01-01T00:00:00Z"),
    ];
    expect(keyOwner(all, deviceIdFromPublicKey)).toBe(keyOwner([...all].reverse(), deviceIdFromPublicKey));
  });

  it("skips registrations rejected without a UUID and those being deleted", () => {
    const deleting = reg("d", "2025-01-01T00:00:00Z");
    deleting.metadata.deletionTimestamp = "2025-05-01T00:00:00Z";
    const owner = keyOwner(
      [reg("rej", "2024-01-01T00:00:00Z", "Rejected"), deleting, reg("new", "2025-06-01T00:00:00Z")],
      deviceIdFromPublicKey,
    );
    expect(owner).toBe("new");
  });
});

describe("KeyIndex", () => {
  it("tracks peers by public key through updates and deletes", () => {
    const idx = new KeyIndex();
    idx.set("ns/a", reg("a", ""));
    idx.set("ns/b", reg("b", ""));
    expect(idx.peers("ns/a", pk)).toEqual(["ns/b"]);
    const other = { ...reg("b", ""), spec: { publicKey: randomBytes(32).toString("base64") } };
    idx.set("ns/b", other);
    expect(idx.peers("ns/a", pk)).toEqual([]);
    idx.set("ns/b", reg("b", ""));
    idx.delete("ns/a");
    expect(idx.peers("ns/b", pk)).toEqual([]);
    expect(idx.peers("ns/x", pk)).toEqual(["ns/b"]);
  });
});
