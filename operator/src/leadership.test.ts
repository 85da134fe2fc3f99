import { KubeError, type KubeRest } from "@devreg/kube";
import { Lifecycle, silentLogger } from "@devreg/runtime";
import { describe, expect, it } from "vitest";
import { parseOperatorConfig } from "./config.ts";
import { Leadership } from "./leadership.ts";

/** An apiserver with no Lease yet: the first replica to ask gets it; PUTs are recorded. */
function freeLease() {
  let lease: { metadata: object; spec: Record<string, unknown> } | undefined;
  const holders: unknown[] = [];
  const rest = {
    request: async (method: string, _path: string, o: { body?: typeof lease } = {}) => {
      if (method === "GET") {
        if (!lease) throw new KubeError("E_KUBE_NOT_FOUND", "not found", 404);
        return structuredClone(lease);
      }
      lease = structuredClone(o.body);
      holders.push(lease?.spec.holderIdentity);
      return structuredClone(lease);
    },
  } as unknown as KubeRest;
  return { rest, holders };
}

function setup() {
  const api = freeLease();
  const cfg = parseOperatorConfig({
    namespace: "ns",
    identity: "op-a",
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
  });
  const calls: string[] = [];
  const task = (name: string) => ({
    startLeading: () => void calls.push(`${name} start`),
    stopLeading: async () => void calls.push(`${name} stop`),
  });
  const lc = new Lifecycle();
  const leadership = new Leadership(api.rest, cfg, silentLogger(), lc, [task("pairing"), task("controller")]);
  return { api, calls, lc, leadership };
}

describe("Leadership", () => {
  it("starts the leader tasks in order on taking the lease, then lets waiters through", async () => {
    const t = setup();
    await expect(t.leadership.waitForLeadership(5)).rejects.toMatchObject({ code: "E_LEADER_ELECTION" });
    t.leadership.start();
    await t.leadership.waitForLeadership(2_000);
    expect(t.leadership.isLeader()).toBe(true);
    expect(t.leadership.healthy()).toBe(true);
    expect(t.calls).toEqual(["pairing start", "controller start"]);
    await t.leadership.waitForLeadership(1); // already leading: at once
    await t.lc.stop();
    expect(t.calls.slice(2)).toEqual(["pairing stop", "controller stop"]);
    expect(t.api.holders.at(-1)).toBe(""); // released for a successor
  });

  it("keeps the lease on stop when told to (a simulated crash)", async () => {
    const t = setup();
    t.leadership.start();
    await t.leadership.waitForLeadership(2_000);
    t.leadership.releaseOnStop = false;
    await t.lc.stop();
    expect(t.leadership.isLeader()).toBe(false);
    expect(t.api.holders.at(-1)).toBe("op-a");
  });
});
