import { pino } from "pino";
import { type ConfigMap, Registrations, allowancesPath, pairingPath } from "@devreg/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import type { KubeRest } from "@devreg/kube";
import { type OperatorHandle, setPairing } from "../src/index.ts";
import { WindowBudget } from "../src/window-budget.ts";
import { createDevice, gatewayRegistration, testOperator, waitFor, waitForPhase } from "./helpers.ts";

// Issue 14 on the real control plane, operator side: the cleanup's TTLs, the budget's exactness
// with two writers, the allowlist and manual approval.
let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;
let op: OperatorHandle;

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "op-policy");
  regs = new Registrations(rest, ns);
  op = await testOperator(kubeconfig, ns, {
    rejectedTtlMs: 2_000,
    pendingTtlMs: 3_000,
    retryableRejectedTtlMs: 1_000,
    cleanupIntervalMs: 500,
  });
  await op.waitForLeadership(20_000);
});
afterAll(async () => {
  await op?.stop();
  rest?.close();
});

async function deleted(name: string): Promise<boolean> {
  try {
    await regs.get(name);
    return false;
  } catch {
    return true;
  }
}

describe("enrollment policy: operator", () => {
  it("TTL cleanup deletes Rejected and Pending past their TTLs, never Approved, and counts it", async () => {
    await setPairing(rest, ns, { enabled: true, selector: 'model == "wanted"' });
    const excluded = await createDevice(regs, { model: "other" });
    const approved = await createDevice(regs, { model: "wanted" });
    await waitForPhase(regs, excluded.metadata.name, "Rejected");
    await waitForPhase(regs, approved.metadata.name, "Approved");
    // A Pending one: manual mode keeps it undecided until an admin acts.
    await setPairing(rest, ns, { enabled: true, mode: "manual" });
    const pending = await createDevice(regs);
    await waitFor("AwaitingApproval", async () => (await regs.get(pending.metadata.name)).status?.reason === "AwaitingApproval");
    const t0 = Date.now();
    await waitFor("the Rejected one deleted", () => deleted(excluded.metadata.name), 15_000);
    const rejectedAfter = Date.now() - t0;
    await waitFor("the Pending one deleted", () => deleted(pending.metadata.name), 15_000);
    const pendingAfter = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await regs.get(approved.metadata.name)).status?.phase).toBe("Approved");
    const text = await op.metrics();
    process.stderr.write(`[policy] TTL: Rejected deleted ${rejectedAfter} ms, Pending ${pendingAfter} ms after observed\n`);
    expect(text).toMatch(/devreg_operator_registrations_deleted_total\{cause="Rejected"\} [1-9]/);
    expect(text).toMatch(/devreg_operator_registrations_deleted_total\{cause="Pending"\} [1-9]/);
  });

  it("a PairingDisabled rejection is deleted (not sticky), so the same key starts afresh", async () => {
    await setPairing(rest, ns, { enabled: false });
    const reg = await createDevice(regs);
    await waitForPhase(regs, reg.metadata.name, "Rejected");
    await waitFor("the PairingDisabled one deleted", () => deleted(reg.metadata.name), 10_000);
    await setPairing(rest, ns, { enabled: true });
    const again = await regs.create({ metadata: { name: reg.metadata.name }, spec: reg.spec });
    const done = await waitForPhase(regs, again.metadata.name, "Approved");
    expect(done.status?.approvedBy?.kind).toBe("PairingWindow");
  });

  it("manual mode: `devreg devices approve` (spec.approval) approves, decidedBy names the admin", async () => {
    await setPairing(rest, ns, { enabled: true, mode: "manual" });
    const reg = await createDevice(regs);
    await waitFor("AwaitingApproval", async () => (await regs.get(reg.metadata.name)).status?.reason === "AwaitingApproval");
    await rest.request("PATCH", regs.itemPath(reg.metadata.name), {
      body: { spec: { approval: "Approve" } },
      contentType: "application/merge-patch+json",
      query: { fieldManager: "alice" },
    });
    const done = await waitForPhase(regs, reg.metadata.name, "Approved");
    expect(done.status).toMatchObject({ reason: "ApprovedByAdmin", decidedBy: "admin:alice", approvedBy: { kind: "Admin", admin: "alice" } });
  });

  it("allowlist: a pre-registered key is approved with pairing closed; approvedBy names the entry", async () => {
    await setPairing(rest, ns, { enabled: false });
    const r = gatewayRegistration();
    await rest.request("POST", allowancesPath(ns), {
      body: { apiVersion: "devices.example.com/v1alpha1", kind: "DeviceAllowance", metadata: { name: "lab-0042" }, spec: { publicKey: r.spec.publicKey } },
    });
    await new Promise((res) => setTimeout(res, 500)); // the operator's allowlist watch sees it
    const reg = await regs.create(r);
    const done = await waitForPhase(regs, reg.metadata.name, "Approved");
    expect(done.status).toMatchObject({ reason: "PreRegistered", decidedBy: "allowlist:lab-0042", approvedBy: { kind: "Allowlist", allowance: "lab-0042" } });
    // The entry records what it approved.
    const deadline = Date.now() + 10_000;
    let used: { status?: { usedBy?: string; usedAt?: string } } = {};
    while (Date.now() < deadline && !used.status?.usedBy) {
      used = await rest.request("GET", `${allowancesPath(ns)}/lab-0042`);
      if (!used.status?.usedBy) await new Promise((res) => setTimeout(res, 100));
    }
    expect(used.status).toMatchObject({ usedBy: reg.metadata.name, usedAt: expect.any(String) });
    // One key per entry: the key cannot be changed afterwards.
    await expect(
      rest.request("PATCH", `${allowancesPath(ns)}/lab-0042`, {
        body: { spec: { publicKey: gatewayRegistration().spec.publicKey } },
        contentType: "application/merge-patch+json",
      }),
    ).rejects.toMatchObject({ code: "E_KUBE_INVALID" });
  });

  it("the budget is exact with two writers: 2 x 600 claims at once on a budget of 100 win exactly 100", async () => {
    const opened = await setPairing(rest, ns, { enabled: true, maxDevices: 100 });
    const slot = { windowId: opened.state.window?.id ?? "", maxDevices: 100 };
    const log = pino({ level: "silent" });
    // Two replicas' allocators, each with its own (lagging) view: only the preconditions keep them honest.
    const replicas = [0, 1].map(
      () => new WindowBudget({ rest, namespace: ns, cached: () => opened.configMap, log }),
    );
    const results = await Promise.all(
      replicas.flatMap((b, r) => Array.from({ length: 600 }, (_, i) => b.claim(`r${r}-${i}`, slot))),
    );
    const cm = await rest.request<ConfigMap>("GET", pairingPath(ns));
    process.stderr.write(`[policy] budget 100, 2 writers x 600 claims: won ${results.filter(Boolean).length}; approvalsUsed ${cm.data?.approvalsUsed}\n`);
    expect(results.filter(Boolean).length).toBe(100);
    expect(cm.data).toMatchObject({ approvalsUsed: "100", enabled: "false" });
  });
});
