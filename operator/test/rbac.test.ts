import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigMap, KubeRest, type KubeRest as KubeRestT, Registrations, resolveKubeConfig } from "@devreg/kube";
import { dump, load, loadAll } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type OperatorHandle, setPairing } from "../src/index.ts";
import { pairingPath } from "../src/pairing.ts";
import { createDevice, testOperator, waitFor, waitForEvent, waitForPhase } from "./helpers.ts";

// The shipped manifests (deploy/, applied with kustomize, which sets the namespace).
const DEPLOY = resolve(fileURLToPath(new URL("../../deploy/rbac", import.meta.url)));
const RBAC_FILES = ["service-accounts.yaml", "operator-role.yaml", "leader-election-role.yaml"];

/** What `kustomize` does to these files for our purpose: put everything in namespace `ns`. */
function manifestsIn(ns: string): string {
  const docs: Array<Record<string, unknown>> = [];
  for (const f of RBAC_FILES) {
    for (const doc of loadAll(readFileSync(join(DEPLOY, f), "utf8")) as Array<Record<string, unknown> | null>) {
      if (!doc) continue;
      (doc.metadata as Record<string, unknown>).namespace = ns;
      for (const subj of (doc.subjects as Array<Record<string, unknown>> | undefined) ?? []) {
        if (subj.kind === "ServiceAccount") subj.namespace = ns;
      }
      docs.push(doc);
    }
  }
  return docs.map((d) => dump(d)).join("---\n");
}

let admin: KubeRestT;
let kubeconfig: string;
let ns: string;
let saKubeconfig: string;
let sa: KubeRestT;
let op: OperatorHandle | undefined;

beforeAll(async () => {
  ({ rest: admin, kubeconfig } = await testKube());
  ns = await freshNamespace(admin, "op-rbac");
  execFileSync("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: manifestsIn(ns), encoding: "utf8" });
  // The same admin credentials, impersonating the operator's ServiceAccount (kubeconfig `as:`).
  const kc = load(readFileSync(kubeconfig, "utf8")) as { users: Array<{ user: Record<string, unknown> }> };
  for (const u of kc.users) u.user.as = `system:serviceaccount:${ns}:devreg-operator`;
  saKubeconfig = join(mkdtempSync(join(tmpdir(), "devreg-rbac-")), "kubeconfig");
  writeFileSync(saKubeconfig, dump(kc), { mode: 0o600 });
  sa = await KubeRest.fromKubeConfig(resolveKubeConfig(saKubeconfig).kc);
});
afterAll(async () => {
  await op?.stop();
  sa?.close();
  admin?.close();
});

describe("the operator's RBAC in deploy/rbac is enough, and no more", () => {
  it("impersonation works and is actually restricted (sanity check of the test itself)", async () => {
    await expect(sa.request("GET", `/api/v1/namespaces/${ns}/secrets`)).rejects.toMatchObject({ code: "E_KUBE_FORBIDDEN" });
  });

  it("the operator runs with only those Roles: leads, decides, records Events, closes an expired window", async () => {
    const regs = new Registrations(admin, ns);
    op = await testOperator(saKubeconfig, ns, { approvalEvents: true });
    await op.waitForLeadership();
    await setPairing(admin, ns, { enabled: true, forSeconds: 2 });
    await waitFor("open", () => op?.pairing().open);
    const a = await createDevice(regs);
    await waitForPhase(regs, a.metadata.name, "Approved");
    await waitForEvent(admin, ns, a.metadata.name, "Approved");
    await waitFor("window closed by the operator", async () => (await admin.request<ConfigMap>("GET", pairingPath(ns))).data?.enabled === "false", 10_000);
    const b = await createDevice(regs);
    await waitForPhase(regs, b.metadata.name, "Rejected");
    await regs.patch(a.metadata.name, { spec: { deactivate: true } });
    await waitForPhase(regs, a.metadata.name, "Deactivated");
    // The metric moves when the operator gets its PATCH response, which can trail our GET.
    const deactivated = /devreg_operator_decisions_total\{outcome="Deactivated",reason="DeactivatedByAdmin"\} 1/;
    const m = await waitFor("the Deactivated decision metric", async () => {
      const text = await op?.metrics();
      return text && deactivated.test(text) ? text : undefined;
    });
    // No error samples at all (a labelled counter prints samples only once incremented).
    expect(m).toContain("# TYPE devreg_operator_reconcile_errors_total counter");
    expect(m).not.toMatch(/devreg_operator_reconcile_errors_total\{/);
    expect(m).toContain("devreg_operator_events_failed_total 0");
  });

  it("the operator's identity can delete registrations (TTL cleanup) but never change their spec", async () => {
    const regs = new Registrations(sa, ns);
    const [first] = (await regs.list()).items;
    expect(first).toBeDefined();
    const name = first?.metadata.name ?? "";
    await expect(sa.request("DELETE", regs.itemPath(name), { query: { dryRun: "All" } })).resolves.toBeDefined();
    await expect(regs.patch(name, { spec: { model: "x" } })).rejects.toMatchObject({ code: "E_KUBE_FORBIDDEN" });
    await expect(
      sa.request("PATCH", `/api/v1/namespaces/${ns}/configmaps/other`, { body: {}, contentType: "application/merge-patch+json" }),
    ).rejects.toMatchObject({ code: "E_KUBE_FORBIDDEN" });
  });
});
