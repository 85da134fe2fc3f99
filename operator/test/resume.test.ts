import { type KubeRest, Registrations } from "@devreg/kube";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type DecisionRecord, type OperatorHandle, setPairing } from "../src/index.ts";
import { gatewayRegistration, testOperator, waitFor } from "./helpers.ts";

let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;
const running: OperatorHandle[] = [];

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "op-resume");
  regs = new Registrations(rest, ns);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((o) => o.stop()));
});
afterAll(() => rest?.close());

async function createMany(n: number, concurrency = 16): Promise<string[]> {
  const names: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const r = await regs.create(gatewayRegistration());
        names.push(r.metadata.name);
      }
    }),
  );
  return names;
}

describe("resume after restart", () => {
  it("an operator started after 100 pending registrations exist decides all of them", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 3600 });
    const names = await createMany(100);
    // Nobody has decided anything yet.
    const before = await regs.list();
    expect(before.items.filter((r) => r.status?.phase).length).toBe(0);

    const decided: DecisionRecord[] = [];
    const op = await testOperator(kubeconfig, ns);
    running.push(op);
    op.onDecision((d) => decided.push(d));
    await waitFor("100 decisions", () => decided.length >= 100, 30_000);

    const after = await regs.list();
    const mine = after.items.filter((r) => names.includes(r.metadata.name));
    expect(mine).toHaveLength(100);
    expect(mine.every((r) => r.status?.phase === "Approved" && r.status.observedGeneration === 1)).toBe(true);
    const uuids = new Set(mine.map((r) => r.status?.deviceUUID));
    expect(uuids.size).toBe(100);
    expect(decided).toHaveLength(100);
  });

  it("a restarted operator rewrites nothing that is already decided and keeps every UUID", async () => {
    const snapshot = new Map((await regs.list()).items.map((r) => [r.metadata.name, r]));
    expect(snapshot.size).toBe(100);
    // Meanwhile, while no operator runs, 20 more devices enroll with pairing now closed.
    await setPairing(rest, ns, { enabled: false });
    const newcomers = await createMany(20);

    const decided: DecisionRecord[] = [];
    const op = await testOperator(kubeconfig, ns);
    running.push(op);
    op.onDecision((d) => decided.push(d));
    await waitFor("20 decisions", () => decided.length >= 20, 30_000);
    await new Promise((r) => setTimeout(r, 500));

    expect(decided.map((d) => d.name).sort()).toEqual([...newcomers].sort());
    expect(decided.every((d) => d.phase === "Rejected" && d.reason === "PairingDisabled")).toBe(true);
    const now = new Map((await regs.list()).items.map((r) => [r.metadata.name, r]));
    for (const [name, old] of snapshot) {
      // Not even a status write: the resourceVersion is unchanged.
      expect(now.get(name)?.metadata.resourceVersion, name).toBe(old.metadata.resourceVersion);
    }
    const metrics = await op.metrics();
    expect(metrics).toMatch(/devreg_operator_reconciles_total\{result="written"\} 20\b/);
  });
});
