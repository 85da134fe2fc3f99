import { randomBytes } from "node:crypto";
import type { ConfigMap, DeviceRegistration, DeviceRegistrationStatus } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import { type CleanupTtls, dueForDeletion } from "./cleanup.ts";
import { type DecideContext, type Decision, decide, isUpToDate } from "./decide.ts";
import { parsePairing } from "./pairing.ts";
import { compileSelector } from "./selector.ts";

// Enrollment policy (issue 14): windows with a budget and a selector, manual approval, the
// allowlist, what stays sticky, and the cleanup's TTLs. Pure: no I/O, fixed clock.
const NOW = new Date("2026-01-01T12:00:00Z");

function cm(data: Record<string, string>): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "devreg-pairing", resourceVersion: "5" },
    data,
  };
}

function reg(
  over: {
    spec?: Partial<DeviceRegistration["spec"]>;
    status?: DeviceRegistrationStatus;
    generation?: number;
    created?: string;
    managedFields?: unknown[];
  } = {},
): DeviceRegistration {
  const key = randomBytes(32);
  const deviceId = deviceIdFromPublicKey(new Uint8Array(key));
  const metadata: DeviceRegistration["metadata"] & { managedFields?: unknown[] } = {
    name: `dev-${deviceId}`,
    namespace: "ns",
    generation: over.generation ?? 1,
    resourceVersion: "9",
    creationTimestamp: over.created ?? "2026-01-01T11:00:00Z",
  };
  if (over.managedFields) metadata.managedFields = over.managedFields;
  return {
    apiVersion: "devices.example.com/v1alpha1",
    kind: "DeviceRegistration",
    metadata,
    spec: {
      publicKey: key.toString("base64"),
      deviceId,
      model: "thermo-2",
      firmwareVersion: "2.1.0",
      ...over.spec,
    },
    status: over.status,
  };
}

function ctx(over: Partial<DecideContext> = {}): DecideContext {
  return {
    newUUID: () => "11111111-1111-4111-8111-111111111111",
    deviceIdOf: deviceIdFromPublicKey,
    ...over,
  };
}

function update(d: Decision) {
  if (d.action !== "update") throw new Error(`expected update, got skip (${d.why})`);
  return d;
}

describe("parsePairing: windows with a budget, a selector and a mode", () => {
  it("reads id, budget, count, selector and mode", () => {
    const st = parsePairing(
      cm({
        enabled: "true",
        windowId: "w-1",
        maxDevices: "100",
        approvalsUsed: "40",
        selector: 'model == "x"',
      }),
      NOW,
    );
    expect(st).toMatchObject({
      open: true,
      code: "PairingWindowOpen",
      window: { id: "w-1", mode: "auto", maxDevices: 100, approvalsUsed: 40, selector: 'model == "x"' },
    });
    expect(st.reason).toContain("60 of 100 approvals left");
  });

  it("a spent budget closes the window, even before enabled is flipped", () => {
    const st = parsePairing(cm({ enabled: "true", maxDevices: "3", approvalsUsed: "3" }), NOW);
    expect(st).toMatchObject({ open: false, code: "PairingBudgetSpent" });
  });

  it.each([
    [{ enabled: "true", maxDevices: "0" }],
    [{ enabled: "true", maxDevices: "ten" }],
    [{ enabled: "true", approvalsUsed: "-1" }],
    [{ enabled: "true", mode: "Manual" }],
  ])("fails closed on a malformed field %j", (data) => {
    expect(parsePairing(cm(data), NOW)).toMatchObject({ open: false, code: "PairingConfigInvalid" });
  });

  it("manual mode is open, and says an admin decides", () => {
    expect(parsePairing(cm({ enabled: "true", mode: "manual" }), NOW)).toMatchObject({
      open: true,
      window: { mode: "manual" },
    });
  });
});

describe("compileSelector (CEL)", () => {
  it("matches on request metadata; device text is data, never code", () => {
    const c = compileSelector('model == "thermo-2" && firmwareVersion.startsWith("2.")');
    if (!c.ok) throw new Error(c.error);
    const base = {
      model: "thermo-2",
      firmwareVersion: "2.1",
      hardwareRevision: "",
      serialNumber: "",
      deviceId: "",
    };
    expect(c.selector(base).matched).toBe(true);
    expect(c.selector({ ...base, firmwareVersion: "1.9" }).matched).toBe(false);
    expect(c.selector({ ...base, model: '" || true || "' }).matched).toBe(false);
  });

  it.each(["model ==", "nosuchvar == 1", "model", "1 + 1"])(
    "refuses %s (parse error, unknown name, not a bool)",
    (src) => {
      expect(compileSelector(src).ok).toBe(false);
    },
  );
});

describe("decide: policy", () => {
  const OPEN = parsePairing(
    cm({
      enabled: "true",
      windowId: "w-7",
      maxDevices: "10",
      approvalsUsed: "0",
      selector: 'model == "thermo-2"',
    }),
    NOW,
  );
  const CLOSED = parsePairing(cm({ enabled: "false" }), NOW);
  const sel = compileSelector('model == "thermo-2"');
  if (!sel.ok) throw new Error(sel.error);

  it("a budgeted window's approval asks for a slot and records the window in approvedBy (audit)", () => {
    const d = update(decide(reg(), OPEN, NOW, ctx({ selector: sel.selector })));
    expect(d.slot).toEqual({ windowId: "w-7", maxDevices: 10 });
    expect(d.status).toMatchObject({
      phase: "Approved",
      decidedBy: "pairing-window:w-7",
      approvedBy: { kind: "PairingWindow", windowId: "w-7", maxDevices: 10, selector: 'model == "thermo-2"' },
    });
  });

  it("a device the selector excludes is rejected SelectorMismatch, and that stays (sticky)", () => {
    const r = reg({ spec: { model: "other" } });
    const d = update(decide(r, OPEN, NOW, ctx({ selector: sel.selector })));
    expect(d.status).toMatchObject({ phase: "Rejected", reason: "SelectorMismatch" });
    const decided = { ...r, status: d.status };
    expect(isUpToDate(decided)).toBe(true);
    expect(dueForDeletion(decided, NOW, TTLS, true)).toBeUndefined();
  });

  it("a pre-registered key is approved with pairing closed, and approvedBy names the allowance", () => {
    const d = update(decide(reg(), CLOSED, NOW, ctx({ allowance: "thermo-0042" })));
    expect(d.slot).toBeUndefined();
    expect(d.status).toMatchObject({
      phase: "Approved",
      reason: "PreRegistered",
      decidedBy: "allowlist:thermo-0042",
      approvedBy: { kind: "Allowlist", allowance: "thermo-0042" },
    });
  });

  it("manual mode: Pending/AwaitingApproval, written once, then the admin's Approve decides (decidedBy names the manager)", () => {
    const manual = parsePairing(cm({ enabled: "true", mode: "manual" }), NOW);
    const r = reg();
    const pending = update(decide(r, manual, NOW, ctx()));
    expect(pending.status).toMatchObject({
      phase: "Pending",
      reason: "AwaitingApproval",
      observedGeneration: 1,
    });
    expect(pending.transition).toBeUndefined();
    const waiting = { ...r, status: pending.status };
    expect(isUpToDate(waiting)).toBe(true);
    expect(decide(waiting, manual, NOW, ctx()).action).toBe("skip");

    const approved = {
      ...waiting,
      metadata: {
        ...waiting.metadata,
        generation: 2,
        managedFields: [
          {
            manager: "devreg-cli",
            operation: "Update",
            time: "2026-01-01T12:00:00Z",
            fieldsV1: { "f:spec": { "f:approval": {} } },
          },
        ],
      },
      spec: { ...waiting.spec, approval: "Approve" as const },
    };
    const d = update(decide(approved, manual, NOW, ctx()));
    expect(d.status).toMatchObject({
      phase: "Approved",
      reason: "ApprovedByAdmin",
      decidedBy: "admin:devreg-cli",
      approvedBy: { kind: "Admin", admin: "devreg-cli" },
    });
  });

  it("Deny rejects DeniedByAdmin (sticky); Approve never overturns a sticky rejection", () => {
    const denied = update(decide(reg({ spec: { approval: "Deny" } }), CLOSED, NOW, ctx()));
    expect(denied.status).toMatchObject({ phase: "Rejected", reason: "DeniedByAdmin" });
    const r = reg({
      generation: 2,
      spec: { approval: "Approve" },
      status: { phase: "Rejected", reason: "InvalidSpec", observedGeneration: 1 },
    });
    expect(update(decide(r, OPEN, NOW, ctx())).status.phase).toBeUndefined(); // observedGeneration bump only
  });

  it("closed: PairingDisabled, which is not sticky (the cleanup removes it)", () => {
    const r = reg();
    const d = update(decide(r, CLOSED, NOW, ctx()));
    expect(d.status).toMatchObject({ phase: "Rejected", reason: "PairingDisabled" });
    const rejected = { ...r, status: d.status };
    expect(dueForDeletion(rejected, NOW, TTLS, true)).toBe("RetryableRejected");
    expect(dueForDeletion(rejected, NOW, TTLS, false)).toBeUndefined();
  });
});

const TTLS: CleanupTtls = {
  rejectedTtlMs: 3_600_000,
  retryableRejectedTtlMs: 60_000,
  pendingTtlMs: 86_400_000,
};

describe("dueForDeletion (TTL cleanup)", () => {
  const at = (iso: string) => new Date(iso);
  it("Rejected after 1 h, not before", () => {
    const r = reg({
      status: {
        phase: "Rejected",
        reason: "InvalidSpec",
        decidedAt: "2026-01-01T11:00:00Z",
        observedGeneration: 1,
      },
    });
    expect(dueForDeletion(r, at("2026-01-01T11:59:59Z"), TTLS, false)).toBeUndefined();
    expect(dueForDeletion(r, at("2026-01-01T12:00:00Z"), TTLS, false)).toBe("Rejected");
  });
  it("PairingDisabled after its short TTL, or at once when pairing is open", () => {
    const r = reg({
      status: {
        phase: "Rejected",
        reason: "PairingDisabled",
        decidedAt: "2026-01-01T11:59:30Z",
        observedGeneration: 1,
      },
    });
    expect(dueForDeletion(r, NOW, TTLS, false)).toBeUndefined();
    expect(dueForDeletion(r, at("2026-01-01T12:00:30Z"), TTLS, false)).toBe("RetryableRejected");
    expect(dueForDeletion(r, NOW, TTLS, true)).toBe("RetryableRejected");
  });
  it("Pending (undecided or awaiting an admin) after 24 h from creation", () => {
    const r = reg({ created: "2025-12-31T12:00:01Z" });
    expect(dueForDeletion(r, NOW, TTLS, false)).toBeUndefined();
    expect(dueForDeletion(r, at("2026-01-01T12:00:01Z"), TTLS, false)).toBe("Pending");
    const awaiting = reg({
      created: "2025-12-30T00:00:00Z",
      status: { phase: "Pending", reason: "AwaitingApproval" },
    });
    expect(dueForDeletion(awaiting, NOW, TTLS, false)).toBe("Pending");
  });
  it("never Approved or Deactivated, however old", () => {
    for (const phase of ["Approved", "Deactivated"] as const) {
      const r = reg({
        created: "2000-01-01T00:00:00Z",
        status: { phase, decidedAt: "2000-01-01T00:00:00Z", observedGeneration: 1 },
      });
      expect(dueForDeletion(r, NOW, TTLS, true)).toBeUndefined();
    }
  });
});
