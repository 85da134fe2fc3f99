import { execFileSync } from "node:child_process";
import { type ConfigMap, type KubeRest, PAIRING_CONFIGMAP, Registrations } from "@devreg/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type DecisionRecord, type OperatorHandle, readPairing, setPairing } from "../src/index.ts";
import { pairingPath } from "../src/pairing.ts";
import {
  createDevice,
  eventsFor,
  gatewayRegistration,
  getJson,
  testOperator,
  waitFor,
  waitForEvent,
  waitForPhase,
} from "./helpers.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;
let op: OperatorHandle;
const decisions: DecisionRecord[] = [];
/** The first test's approval: by default it gets no Event (approvalEvents is off). */
let firstApproved = "";

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "op-decide");
  regs = new Registrations(rest, ns);
  op = await testOperator(kubeconfig, ns);
  op.onDecision((d) => decisions.push(d));
  await op.waitForLeadership();
});
afterAll(async () => {
  await op?.stop();
  rest?.close();
});

function kubectl(...args: string[]): string {
  return execFileSync("kubectl", ["--kubeconfig", kubeconfig, "-n", ns, ...args], { encoding: "utf8" });
}

describe("operator decisions on a real apiserver", () => {
  it("approves a registration while pairing is open: UUID v4, condition, decidedBy", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    const created = await createDevice(regs);
    const r = await waitForPhase(regs, created.metadata.name, "Approved");
    expect(r.status?.deviceUUID).toMatch(UUID_RE);
    expect(r.status).toMatchObject({ reason: "PairingWindowOpen", observedGeneration: 1 });
    // Audit (issue 14): the window that allowed it, by id.
    expect(r.status?.decidedBy).toMatch(/^pairing-window:w-/);
    expect(r.status?.approvedBy).toMatchObject({ kind: "PairingWindow", windowId: r.status?.decidedBy?.slice("pairing-window:".length) });
    expect(Date.parse(r.status?.decidedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(r.status?.conditions).toEqual([
      expect.objectContaining({ type: "Approved", status: "True", reason: "PairingWindowOpen", observedGeneration: 1 }),
    ]);
    firstApproved = created.metadata.name;
    // The audit trail names the operator as the writer of status.
    const managers = (r.metadata as { managedFields?: Array<{ manager: string; fieldsV1?: Record<string, unknown> }> }).managedFields ?? [];
    expect(managers.find((m) => m.manager === "devreg-operator")?.fieldsV1).toHaveProperty("f:status");
  });

  it("rejects with PairingDisabled while pairing is closed, with a Warning Event", async () => {
    await setPairing(rest, ns, { enabled: false });
    await waitFor("operator to see pairing closed", () => !op.pairing().open);
    const created = await createDevice(regs);
    const r = await waitForPhase(regs, created.metadata.name, "Rejected");
    expect(r.status).toMatchObject({ reason: "PairingDisabled" });
    expect(r.status?.decidedBy).toMatch(/^pairing-window/);
    expect(r.status?.deviceUUID).toBeUndefined();
    const ev = await waitForEvent(rest, ns, created.metadata.name, "Rejected");
    expect(ev.type).toBe("Warning");
    expect(ev.message).toContain("pairing is disabled");
    // Events go out in decision order, so the first test's approval would be recorded by now:
    // routine approvals get no Event unless approvalEvents is on (see rbac.test.ts).
    await new Promise((r) => setTimeout(r, 1_000)); // a concurrent send would have landed by now
    expect(firstApproved).not.toBe("");
    expect((await eventsFor(rest, ns, firstApproved)).map((e) => e.reason)).toEqual([]);
  });

  it("never changes a decision on a pairing flip; a PairingDisabled rejection is deleted when a window opens, so the device retries afresh", async () => {
    await setPairing(rest, ns, { enabled: false });
    await waitFor("closed", () => !op.pairing().open);
    const rejected = await createDevice(regs);
    await waitForPhase(regs, rejected.metadata.name, "Rejected");

    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    const approved = await createDevice(regs);
    const a1 = await waitForPhase(regs, approved.metadata.name, "Approved");

    await setPairing(rest, ns, { enabled: false });
    await waitFor("closed", () => !op.pairing().open);
    // Give the operator every chance to (wrongly) re-decide.
    await new Promise((r) => setTimeout(r, 500));
    const a2 = await regs.get(approved.metadata.name);
    expect(a2.status).toMatchObject({ phase: "Approved", deviceUUID: a1.status?.deviceUUID, decidedAt: a1.status?.decidedAt });
    // Not sticky (issue 14): the window that opened in between made the operator delete it.
    await waitFor("deletion", async () => regs.get(rejected.metadata.name).then(() => false, () => true));

    // Retry path: open pairing, the device (here: we) enrolls again, no admin action.
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    await regs.create({ metadata: { name: rejected.metadata.name }, spec: rejected.spec });
    const again = await waitForPhase(regs, rejected.metadata.name, "Approved");
    expect(again.status?.deviceUUID).toMatch(UUID_RE);
  });

  it("rejects an invalid spec with InvalidSpec even while pairing is open", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    const good = gatewayRegistration();
    const bad = await regs.create({ metadata: good.metadata, spec: { ...good.spec, deviceId: "0".repeat(32) } });
    const r = await waitForPhase(regs, bad.metadata.name, "Rejected");
    expect(r.status).toMatchObject({ reason: "InvalidSpec", decidedBy: "spec-validation" });
    expect(r.status?.message).toContain("not the fingerprint");
    expect(r.status?.deviceUUID).toBeUndefined();
  });

  it("gives one public key one UUID: a second object with the same key is rejected", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    const first = await createDevice(regs);
    const r1 = await waitForPhase(regs, first.metadata.name, "Approved");
    const copy = await regs.create({ metadata: { name: "copy-of-first" }, spec: { publicKey: first.spec.publicKey } });
    const r2 = await waitForPhase(regs, copy.metadata.name, "Rejected");
    expect(r2.status?.reason).toBe("DuplicatePublicKey");
    expect(r2.status?.deviceUUID).toBeUndefined();
    expect((await regs.get(first.metadata.name)).status?.deviceUUID).toBe(r1.status?.deviceUUID);
  });

  it("closes an expired window itself (enabled=false + Event); later registrations are rejected", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 2 });
    await waitFor("open", () => op.pairing().open);
    const early = await createDevice(regs);
    const e = await waitForPhase(regs, early.metadata.name, "Approved");

    const closed = await waitFor("operator to patch the ConfigMap", async () => {
      const cm = await rest.request<ConfigMap>("GET", pairingPath(ns));
      return cm.data?.enabled === "false" ? cm : undefined;
    }, 10_000);
    expect(closed.data?.expiresAt).toBeDefined(); // kept, for the record
    const ev = await waitForEvent(rest, ns, PAIRING_CONFIGMAP, "PairingWindowExpired");
    expect(ev).toMatchObject({ type: "Normal", involvedObject: { kind: "ConfigMap" } });
    expect((await readPairing(rest, ns)).state.code).toBe("PairingDisabled");

    const late = await createDevice(regs);
    const l = await waitForPhase(regs, late.metadata.name, "Rejected");
    expect(l.status?.reason).toBe("PairingDisabled");
    expect((await regs.get(early.metadata.name)).status?.deviceUUID).toBe(e.status?.deviceUUID);
  });

  it("deactivates (UUID kept, decidedBy names kubectl's field manager) and reactivates with the same UUID", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    const created = await createDevice(regs);
    const approved = await waitForPhase(regs, created.metadata.name, "Approved");
    const uuid = approved.status?.deviceUUID;

    kubectl("patch", "devreg", created.metadata.name, "--type", "merge", "-p", '{"spec":{"deactivate":true}}');
    const d = await waitForPhase(regs, created.metadata.name, "Deactivated");
    expect(d.status).toMatchObject({ reason: "DeactivatedByAdmin", deviceUUID: uuid, observedGeneration: 2 });
    expect(d.status?.decidedBy).toMatch(/^admin:kubectl/);
    expect(d.status?.conditions?.[0]).toMatchObject({ type: "Approved", status: "False", reason: "DeactivatedByAdmin" });
    await waitForEvent(rest, ns, created.metadata.name, "Deactivated");

    // Pairing state does not matter for reactivation.
    await setPairing(rest, ns, { enabled: false });
    await regs.patch(created.metadata.name, { spec: { deactivate: false } });
    const re = await waitForPhase(regs, created.metadata.name, "Approved");
    expect(re.status).toMatchObject({ reason: "Reactivated", deviceUUID: uuid, observedGeneration: 3 });
    await waitForEvent(rest, ns, created.metadata.name, "Reactivated");
  });

  it("a spec edit that is not deactivate keeps the decision and only moves observedGeneration", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 600 });
    await waitFor("open", () => op.pairing().open);
    const created = await createDevice(regs);
    const a = await waitForPhase(regs, created.metadata.name, "Approved");
    await setPairing(rest, ns, { enabled: false });
    await regs.patch(created.metadata.name, { spec: { firmwareVersion: "2.0.0" } });
    const b = await waitFor("observedGeneration 2", async () => {
      const r = await regs.get(created.metadata.name);
      return r.status?.observedGeneration === 2 ? r : undefined;
    });
    expect(b.status).toMatchObject({ phase: "Approved", deviceUUID: a.status?.deviceUUID, decidedAt: a.status?.decidedAt });
  });

  it("fails closed when the ConfigMap is missing: Rejected, and the Event says why", async () => {
    await rest.request("DELETE", pairingPath(ns));
    await waitFor("operator to see it gone", () => op.pairing().code === "PairingConfigMissing");
    const created = await createDevice(regs);
    const r = await waitForPhase(regs, created.metadata.name, "Rejected");
    expect(r.status?.reason).toBe("PairingDisabled");
    const ev = await waitForEvent(rest, ns, created.metadata.name, "Rejected");
    expect(ev.message).toContain(`ConfigMap ${PAIRING_CONFIGMAP} not found`);
  });

  it("fails closed when the ConfigMap is malformed: Rejected + a Warning Event on the ConfigMap", async () => {
    await rest.request("POST", `/api/v1/namespaces/${ns}/configmaps`, {
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: PAIRING_CONFIGMAP }, data: { enabled: "yes please" } },
    });
    await waitFor("operator to see it", () => op.pairing().code === "PairingConfigInvalid");
    const cmEvent = await waitForEvent(rest, ns, PAIRING_CONFIGMAP, "PairingConfigInvalid");
    expect(cmEvent.type).toBe("Warning");
    expect(cmEvent.message).toContain("data.enabled");
    const created = await createDevice(regs);
    const r = await waitForPhase(regs, created.metadata.name, "Rejected");
    expect(r.status?.message).toContain("malformed");
    const ev = await waitForEvent(rest, ns, created.metadata.name, "Rejected");
    expect(ev.message).toContain("malformed");
  });

  it("serves /healthz, /readyz and /metrics with the devreg_operator_ prefix", async () => {
    expect(await getJson(op.httpPort, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await getJson(op.httpPort, "/readyz")).toEqual({ status: 200, body: "ok\n" });
    const m = await getJson(op.httpPort, "/metrics");
    expect(m.status).toBe(200);
    expect(m.body).toContain("devreg_operator_leader 1");
    expect(m.body).toMatch(/devreg_operator_reconciles_total\{result="written"\} \d+/);
    expect(m.body).toMatch(/devreg_operator_decisions_total\{outcome="Approved",reason="PairingWindowOpen"\} [1-9]/);
    expect(m.body).toMatch(/devreg_operator_decisions_total\{outcome="Rejected",reason="InvalidSpec"\} 1/);
    expect(m.body).toContain("devreg_operator_reconcile_duration_seconds_bucket");
    expect(m.body).toContain("devreg_operator_queue_depth 0");
    expect(m.body).toContain("devreg_operator_events_dropped_total 0");
    expect(m.body).toMatch(/devreg_operator_events_sent_total [1-9]/);
    expect((await getJson(op.httpPort, "/nope")).status).toBe(404);
  });

  it("wrote each decision exactly once (no re-decisions, no second UUIDs)", async () => {
    const byName = new Map<string, DecisionRecord[]>();
    for (const d of decisions) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
    for (const [name, ds] of byName) {
      // Only deactivate/reactivate and the delete+recreate legitimately decide one name twice or more.
      const pairingDecisions = ds.filter((d) => d.decidedBy === "pairing-window");
      if (pairingDecisions.length > 1) {
        expect(pairingDecisions.length, name).toBe(2); // the deleted-and-recreated one
      }
      const uuids = new Set(ds.map((d) => d.deviceUUID).filter(Boolean));
      expect(uuids.size, name).toBeLessThanOrEqual(pairingDecisions.length > 1 ? 2 : 1);
    }
    expect(decisions.length).toBeGreaterThanOrEqual(12);
    const evs = await eventsFor(rest, ns, "copy-of-first");
    expect(evs.map((e) => e.reason)).toEqual(["Rejected"]);
  });
});
