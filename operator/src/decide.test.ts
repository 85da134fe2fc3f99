import { randomBytes } from "node:crypto";
import type { DeviceRegistration, DeviceRegistrationStatus } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONDITION_APPROVED,
  type DecideContext,
  type Decision,
  compactManagedFields,
  deactivateManager,
  decide,
  isUpToDate,
} from "./decide.ts";
import { type PairingState, parsePairing } from "./pairing.ts";

const NOW = new Date("2025-06-01T12:00:00Z");
const OPEN: PairingState = {
  open: true,
  code: "PairingWindowOpen",
  reason: "the pairing window is open (no expiry)",
};
const CLOSED: PairingState = { open: false, code: "PairingDisabled", reason: "pairing is disabled" };
const UUID_A = "11111111-1111-4111-8111-111111111111";
const UUID_B = "22222222-2222-4222-8222-222222222222";

function ctx(over: Partial<DecideContext> = {}): DecideContext & { minted: number } {
  const c: DecideContext & { minted: number } = {
    minted: 0,
    deviceIdOf: deviceIdFromPublicKey,
    newUUID: (): string => {
      c.minted++;
      return c.minted === 1 ? UUID_A : UUID_B;
    },
    ...over,
  };
  return c;
}

function newReg(
  over: {
    spec?: Partial<DeviceRegistration["spec"]>;
    status?: DeviceRegistrationStatus;
    generation?: number;
    name?: string;
  } = {},
): DeviceRegistration {
  const key = randomBytes(32);
  const deviceId = deviceIdFromPublicKey(new Uint8Array(key));
  return {
    apiVersion: "devices.example.com/v1alpha1",
    kind: "DeviceRegistration",
    metadata: {
      name: over.name ?? `dev-${deviceId}`,
      namespace: "ns",
      generation: over.generation ?? 1,
      resourceVersion: "7",
    },
    spec: { publicKey: key.toString("base64"), deviceId, model: "th-01", ...over.spec },
    status: over.status,
  };
}

function update(d: Decision) {
  if (d.action !== "update") throw new Error(`expected update, got skip (${d.why})`);
  return d;
}

/** Applies a decision the way a merge-patch on the status subresource would. */
function apply(reg: DeviceRegistration, d: Decision): DeviceRegistration {
  if (d.action === "skip") return reg;
  return { ...reg, status: { ...reg.status, ...d.status } };
}

describe("decide: new registrations", () => {
  it("approves while pairing is open, with a fresh UUID, condition and decidedBy", () => {
    const c = ctx();
    const d = update(decide(newReg(), OPEN, NOW, c));
    expect(d.status).toMatchObject({
      phase: "Approved",
      reason: "PairingWindowOpen",
      deviceUUID: UUID_A,
      decidedBy: "pairing-window",
      decidedAt: "2025-06-01T12:00:00Z",
      observedGeneration: 1,
    });
    expect(d.status.message).toContain(UUID_A);
    expect(d.status.conditions).toEqual([
      {
        type: CONDITION_APPROVED,
        status: "True",
        reason: "PairingWindowOpen",
        message: d.status.message,
        observedGeneration: 1,
        lastTransitionTime: "2025-06-01T12:00:00Z",
      },
    ]);
    expect(d.transition).toMatchObject({ phase: "Approved", eventType: "Normal", eventReason: "Approved" });
    expect(c.minted).toBe(1);
  });

  it("rejects with PairingDisabled while pairing is closed, and says how to retry", () => {
    const c = ctx();
    const d = update(decide(newReg(), CLOSED, NOW, c));
    expect(d.status).toMatchObject({
      phase: "Rejected",
      reason: "PairingDisabled",
      decidedBy: "pairing-window",
    });
    expect(d.status.deviceUUID).toBeUndefined();
    expect(d.status.message).toMatch(/pairing is disabled.*Not sticky/);
    expect(d.status.conditions?.[0]).toMatchObject({
      type: "Approved",
      status: "False",
      reason: "PairingDisabled",
    });
    expect(d.transition?.eventType).toBe("Warning");
    expect(c.minted).toBe(0);
  });

  it("fails closed for a missing or malformed pairing ConfigMap, with the reason in the message", () => {
    const missing = update(decide(newReg(), parsePairing(undefined, NOW), NOW, ctx()));
    expect(missing.status).toMatchObject({ phase: "Rejected", reason: "PairingDisabled" });
    expect(missing.status.message).toContain("not found");
    const cm = {
      apiVersion: "v1" as const,
      kind: "ConfigMap" as const,
      metadata: { name: "devreg-pairing" },
      data: { enabled: "yes" },
    };
    const bad = update(decide(newReg(), parsePairing(cm, NOW), NOW, ctx()));
    expect(bad.status).toMatchObject({ phase: "Rejected", reason: "PairingDisabled" });
    expect(bad.status.message).toContain("malformed");
  });

  it("rejects an expired window even before the operator has patched it closed", () => {
    const cm = {
      apiVersion: "v1" as const,
      kind: "ConfigMap" as const,
      metadata: { name: "devreg-pairing" },
      data: { enabled: "true", expiresAt: "2025-06-01T11:59:59Z" },
    };
    const d = update(decide(newReg(), parsePairing(cm, NOW), NOW, ctx()));
    expect(d.status).toMatchObject({ phase: "Rejected", reason: "PairingDisabled" });
    expect(d.status.message).toContain("expired");
  });

  it("treats an explicit Pending phase as undecided", () => {
    const d = update(decide(newReg({ status: { phase: "Pending" } }), OPEN, NOW, ctx()));
    expect(d.status.phase).toBe("Approved");
  });

  it("keeps an existing UUID instead of minting a second one", () => {
    const c = ctx();
    const d = update(decide(newReg({ status: { deviceUUID: UUID_B } }), OPEN, NOW, c));
    expect(d.status.deviceUUID).toBe(UUID_B);
    expect(c.minted).toBe(0);
    const r = update(decide(newReg({ status: { deviceUUID: UUID_B } }), CLOSED, NOW, c));
    expect(r.status).toMatchObject({ phase: "Rejected", deviceUUID: UUID_B });
  });
});

describe("decide: invalid specs are Rejected/InvalidSpec whatever the pairing state", () => {
  const cases: Array<[string, DeviceRegistration]> = [
    ["deviceId is not the key's fingerprint", newReg({ spec: { deviceId: "0".repeat(32) } })],
    ["publicKey is not base64 of 32 bytes", newReg({ spec: { publicKey: "AAAA" } })],
    ["publicKey missing", newReg({ spec: { publicKey: undefined as unknown as string } })],
    ["gateway-style name of another key", newReg({ name: `dev-${"a".repeat(32)}` })],
    ["model is not a string", newReg({ spec: { model: 42 as unknown as string } })],
    ["spec missing", { ...newReg(), spec: undefined as unknown as DeviceRegistration["spec"] }],
  ];
  for (const [what, reg] of cases) {
    it(what, () => {
      const d = update(decide(reg, OPEN, NOW, ctx()));
      expect(d.status).toMatchObject({
        phase: "Rejected",
        reason: "InvalidSpec",
        decidedBy: "spec-validation",
      });
      expect(d.status.deviceUUID).toBeUndefined();
      expect(d.status.message).toMatch(/^invalid spec: /);
    });
  }

  it("accepts a registration without deviceId under a free-form name (kubectl-created)", () => {
    const reg = newReg({ name: "dev-sample", spec: { deviceId: undefined } });
    expect(update(decide(reg, OPEN, NOW, ctx())).status.phase).toBe("Approved");
  });
});

describe("decide: one key, one UUID", () => {
  it("rejects a registration that is not the owner of its public key", () => {
    const reg = newReg({ name: "copy-of-device" });
    const d = update(decide(reg, OPEN, NOW, ctx({ keyOwner: "dev-other" })));
    expect(d.status).toMatchObject({ phase: "Rejected", reason: "DuplicatePublicKey" });
    expect(d.status.message).toContain("dev-other");
  });

  it("approves the owner itself", () => {
    const reg = newReg();
    expect(update(decide(reg, OPEN, NOW, ctx({ keyOwner: reg.metadata.name }))).status.phase).toBe(
      "Approved",
    );
  });
});

describe("decide: sticky decisions", () => {
  it("skips a registration decided for its generation, whatever pairing says", () => {
    const approved = apply(newReg(), decide(newReg(), OPEN, NOW, ctx()));
    expect(decide(approved, CLOSED, NOW, ctx())).toEqual({
      action: "skip",
      why: "decided for this generation",
    });
    const rejected = apply(newReg(), decide(newReg(), CLOSED, NOW, ctx()));
    expect(decide(rejected, OPEN, NOW, ctx()).action).toBe("skip");
    expect(isUpToDate(approved)).toBe(true);
    expect(isUpToDate(newReg())).toBe(false);
  });

  it("on a spec change keeps the decision and moves only observedGeneration", () => {
    const approved = apply(newReg(), decide(newReg(), OPEN, NOW, ctx()));
    const edited = { ...approved, metadata: { ...approved.metadata, generation: 2 } };
    const later = new Date(NOW.getTime() + 60_000);
    const d = update(decide(edited, CLOSED, later, ctx()));
    expect(d.transition).toBeUndefined();
    expect(Object.keys(d.status).sort()).toEqual(["conditions", "observedGeneration"]);
    expect(d.status.observedGeneration).toBe(2);
    // Same condition status: lastTransitionTime does not move.
    expect(d.status.conditions?.[0]).toMatchObject({
      status: "True",
      observedGeneration: 2,
      lastTransitionTime: "2025-06-01T12:00:00Z",
    });
  });

  it("skips objects being deleted", () => {
    const reg = newReg();
    reg.metadata.deletionTimestamp = "2025-06-01T11:00:00Z";
    expect(decide(reg, OPEN, NOW, ctx()).action).toBe("skip");
  });
});

describe("decide: deactivate and reactivate", () => {
  const managed = (manager: string) => [
    {
      manager: "gateway",
      operation: "Update",
      time: "2025-06-01T10:00:00Z",
      fieldsV1: { "f:spec": { "f:publicKey": {} } },
    },
    {
      manager,
      operation: "Update",
      time: "2025-06-01T11:00:00Z",
      fieldsV1: { "f:spec": { "f:deactivate": {} } },
    },
    {
      manager: "devreg-operator",
      operation: "Update",
      subresource: "status",
      time: "2025-06-01T11:30:00Z",
      fieldsV1: { "f:status": {} },
    },
  ];

  function approvedThenDeactivated() {
    const approved = apply(newReg(), decide(newReg(), OPEN, NOW, ctx()));
    const deact: DeviceRegistration = {
      ...approved,
      metadata: {
        ...approved.metadata,
        generation: 2,
        managedFields: managed("kubectl-patch"),
      } as DeviceRegistration["metadata"],
      spec: { ...approved.spec, deactivate: true },
    };
    return deact;
  }

  it("deactivates, keeps the UUID, and names the field manager in decidedBy", () => {
    const deact = approvedThenDeactivated();
    expect(deactivateManager(deact)).toBe("kubectl-patch");
    const d = update(decide(deact, OPEN, new Date(NOW.getTime() + 1000), ctx()));
    expect(d.status).toMatchObject({
      phase: "Deactivated",
      reason: "DeactivatedByAdmin",
      deviceUUID: UUID_A,
      decidedBy: "admin:kubectl-patch",
      decidedAt: "2025-06-01T12:00:01Z",
      observedGeneration: 2,
    });
    expect(d.status.conditions?.[0]).toMatchObject({
      status: "False",
      reason: "DeactivatedByAdmin",
      lastTransitionTime: "2025-06-01T12:00:01Z",
    });
  });

  it("the informer's compactManagedFields keeps exactly what deactivateManager reads", () => {
    const deact = approvedThenDeactivated();
    const before = JSON.stringify(deact.metadata).length;
    const compact = compactManagedFields(structuredClone(deact));
    expect(deactivateManager(compact)).toBe("kubectl-patch");
    expect((compact.metadata as { managedFields?: unknown[] }).managedFields).toEqual([
      {
        manager: "kubectl-patch",
        operation: "Update",
        time: "2025-06-01T11:00:00Z",
        fieldsV1: { "f:spec": { "f:deactivate": {} } },
      },
    ]);
    expect(JSON.stringify(compact.metadata).length).toBeLessThan(before);
    // No entry owns spec.deactivate: the field goes away altogether.
    const plain = {
      ...deact,
      metadata: { ...deact.metadata, managedFields: managed("x").slice(0, 1) },
    } as DeviceRegistration;
    expect(compactManagedFields(plain).metadata).not.toHaveProperty("managedFields");
    expect(deactivateManager(plain)).toBeUndefined();
  });

  it("reactivates to Approved with the same UUID (reason Reactivated)", () => {
    const deact = approvedThenDeactivated();
    const deactivated = apply(deact, decide(deact, OPEN, NOW, ctx()));
    const react: DeviceRegistration = {
      ...deactivated,
      metadata: {
        ...deactivated.metadata,
        generation: 3,
        managedFields: managed("devreg-cli"),
      } as DeviceRegistration["metadata"],
      spec: { ...deactivated.spec, deactivate: false },
    };
    const c = ctx();
    const d = update(decide(react, CLOSED, NOW, c));
    expect(d.status).toMatchObject({
      phase: "Approved",
      reason: "Reactivated",
      deviceUUID: UUID_A,
      decidedBy: "admin:devreg-cli",
    });
    expect(c.minted).toBe(0);
  });

  it("a registration deactivated before approval has no UUID and goes back to Rejected", () => {
    const pending = newReg({ spec: { deactivate: true } });
    const deactivated = apply(pending, decide(pending, OPEN, NOW, ctx()));
    expect(deactivated.status).toMatchObject({ phase: "Deactivated", decidedBy: "admin" });
    expect(deactivated.status?.deviceUUID).toBeUndefined();
    const back = {
      ...deactivated,
      metadata: { ...deactivated.metadata, generation: 2 },
      spec: { ...deactivated.spec, deactivate: false },
    };
    const d = update(decide(back, OPEN, NOW, ctx()));
    expect(d.status).toMatchObject({ phase: "Rejected", reason: "NeverApproved" });
    expect(d.status.deviceUUID).toBeUndefined();
  });

  it("removing spec.deactivate altogether also reactivates", () => {
    const deact = approvedThenDeactivated();
    const deactivated = apply(deact, decide(deact, OPEN, NOW, ctx()));
    const { deactivate: _, ...spec } = deactivated.spec;
    // Removing the field also removes it from its manager's managedFields entry.
    const metadata = {
      ...deactivated.metadata,
      generation: 3,
      managedFields: managed("x").slice(0, 1),
    } as DeviceRegistration["metadata"];
    const d = update(decide({ ...deactivated, metadata, spec }, OPEN, NOW, ctx()));
    expect(d.status).toMatchObject({
      phase: "Approved",
      reason: "Reactivated",
      deviceUUID: UUID_A,
      decidedBy: "admin",
    });
  });
});

describe("decide: properties", () => {
  const phase = fc.constantFrom(undefined, "Pending", "Approved", "Rejected", "Deactivated");
  const statusArb = fc.record(
    {
      phase,
      deviceUUID: fc.constantFrom(undefined, UUID_B),
      observedGeneration: fc.integer({ min: 0, max: 3 }),
    },
    { requiredKeys: [] },
  );
  const arb = fc.record({
    status: fc.option(statusArb, { nil: undefined }),
    generation: fc.integer({ min: 1, max: 3 }),
    deactivate: fc.constantFrom(undefined, true, false),
    open: fc.boolean(),
  });

  it("never replaces or drops an existing UUID, and mints at most one only when approving", () => {
    fc.assert(
      fc.property(arb, ({ status, generation, deactivate, open }) => {
        const reg = newReg({ status: status as DeviceRegistrationStatus, generation, spec: { deactivate } });
        const c = ctx();
        const d = decide(reg, open ? OPEN : CLOSED, NOW, c);
        const after = apply(reg, d);
        if (status?.deviceUUID) expect(after.status?.deviceUUID).toBe(status.deviceUUID);
        expect(c.minted).toBeLessThanOrEqual(1);
        if (c.minted === 1) expect(after.status?.phase).toBe("Approved");
      }),
    );
  });

  it("is idempotent: deciding the result again is a skip", () => {
    fc.assert(
      fc.property(arb, ({ status, generation, deactivate, open }) => {
        const reg = newReg({ status: status as DeviceRegistrationStatus, generation, spec: { deactivate } });
        const pairing = open ? OPEN : CLOSED;
        const after = apply(reg, decide(reg, pairing, NOW, ctx()));
        expect(decide(after, pairing, NOW, ctx()).action).toBe("skip");
        expect(decide(after, open ? CLOSED : OPEN, NOW, ctx()).action).toBe("skip");
      }),
    );
  });

  it("spec.deactivate true always ends Deactivated; approval needs an open window or a reactivation", () => {
    fc.assert(
      fc.property(arb, ({ status, generation, deactivate, open }) => {
        const reg = newReg({ status: status as DeviceRegistrationStatus, generation, spec: { deactivate } });
        const d = decide(reg, open ? OPEN : CLOSED, NOW, ctx());
        const after = apply(reg, d);
        if (deactivate && d.action === "update") expect(after.status?.phase).toBe("Deactivated");
        const wasDecided = ["Approved", "Rejected", "Deactivated"].includes(status?.phase ?? "");
        if (!wasDecided && !open && !deactivate) expect(after.status?.phase).toBe("Rejected");
      }),
    );
  });
});
