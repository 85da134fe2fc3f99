import { type KubeRest, Registrations } from "@devreg/kube";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type DecisionRecord, type OperatorHandle, setPairing } from "../src/index.ts";
import { FAST_LEASE, createDevice, getJson, testOperator, waitFor, waitForPhase } from "./helpers.ts";

interface Lease {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; renewTime?: string };
}

let rest: KubeRest;
let kubeconfig: string;
let regs: Registrations;
let ns: string;
const running: OperatorHandle[] = [];

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((o) => o.stop()));
});
afterAll(() => rest?.close());

/** Each test gets its own namespace, so its own Lease. */
async function twoReplicas() {
  ns = await freshNamespace(rest, "op-leader");
  regs = new Registrations(rest, ns);
  await setPairing(rest, ns, { enabled: true, forSeconds: 3600 });
  const a = await testOperator(kubeconfig, ns, { identity: "replica-a" });
  running.push(a);
  await a.waitForLeadership();
  const b = await testOperator(kubeconfig, ns, { identity: "replica-b" });
  running.push(b);
  const decisions = { a: [] as DecisionRecord[], b: [] as DecisionRecord[] };
  a.onDecision((d) => decisions.a.push(d));
  b.onDecision((d) => decisions.b.push(d));
  return { a, b, decisions };
}

const lease = () => rest.request<Lease>("GET", `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/devreg-operator`);

describe("leader election on a Lease", () => {
  it("two replicas: exactly one leads and reconciles; the standby is ready too", async () => {
    const { a, b, decisions } = await twoReplicas();
    await new Promise((r) => setTimeout(r, FAST_LEASE.retryPeriodMs * 3));
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect((await lease()).spec.holderIdentity).toBe("replica-a");

    for (let i = 0; i < 10; i++) await createDevice(regs);
    await waitFor("10 decisions", () => decisions.a.length === 10);
    expect(decisions.b).toHaveLength(0);

    expect((await getJson(b.httpPort, "/readyz")).status).toBe(200);
    expect(await b.metrics()).toContain("devreg_operator_leader 0");
    expect(await a.metrics()).toContain("devreg_operator_leader 1");
  });

  it("the leader dies without releasing: the standby takes over within the lease duration", async () => {
    const { a, b, decisions } = await twoReplicas();
    await new Promise((r) => setTimeout(r, FAST_LEASE.retryPeriodMs * 2));
    expect(b.isLeader()).toBe(false);

    const t0 = Date.now();
    await a.stop({ releaseLease: false }); // a crash, as far as the Lease can tell
    expect((await lease()).spec.holderIdentity).toBe("replica-a");
    await waitFor("b to lead", () => b.isLeader(), FAST_LEASE.leaseDurationMs + 3 * FAST_LEASE.retryPeriodMs + 1000, 20);
    const took = Date.now() - t0;
    // Not before the lease could have expired (no split brain), not much after it.
    expect(took).toBeGreaterThanOrEqual(FAST_LEASE.leaseDurationMs - FAST_LEASE.retryPeriodMs * 2);
    expect(took).toBeLessThanOrEqual(FAST_LEASE.leaseDurationMs + 2 * FAST_LEASE.retryPeriodMs + 500);
    const l = await lease();
    expect(l.spec.holderIdentity).toBe("replica-b");
    expect(l.spec.leaseTransitions).toBe(1);

    const created = await createDevice(regs);
    await waitForPhase(regs, created.metadata.name, "Approved");
    // onDecision fires when the patch response arrives, which can be just after our GET saw it.
    await waitFor("b's decision record", () => decisions.b.length > 0);
    expect(decisions.b.map((d) => d.name)).toEqual([created.metadata.name]);
    expect(decisions.a).toHaveLength(0);
  });

  it("a graceful stop releases the lease: the standby takes over at once", async () => {
    const { a, b } = await twoReplicas();
    await new Promise((r) => setTimeout(r, FAST_LEASE.retryPeriodMs * 2));
    const t0 = Date.now();
    await a.stop();
    const released = await lease();
    expect(released.spec.holderIdentity === "" || released.spec.holderIdentity === "replica-b").toBe(true);
    await waitFor("b to lead", () => b.isLeader(), 5_000, 20);
    // Well under the lease duration: b did not wait for expiry.
    expect(Date.now() - t0).toBeLessThan(FAST_LEASE.leaseDurationMs - 500);
  });

  it("pending work left by a crashed leader is finished by the successor", async () => {
    const { a, b, decisions } = await twoReplicas();
    await a.stop({ releaseLease: false });
    // Devices enroll while nobody leads.
    const names: string[] = [];
    for (let i = 0; i < 15; i++) names.push((await createDevice(regs)).metadata.name);
    expect(decisions.a).toHaveLength(0);
    await waitFor("b to decide all 15", () => decisions.b.length === 15, 15_000);
    expect(decisions.b.map((d) => d.name).sort()).toEqual(names.sort());
    expect(b.isLeader()).toBe(true);
  });
});
