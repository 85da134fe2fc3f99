import type { ConfigMap, DeviceRegistration, KubeRest, Registrations } from "@devreg/kube";
import { silentLogger } from "@devreg/runtime";
import { describe, expect, it } from "vitest";
import { parseOperatorConfig } from "./config.ts";
import { createMetrics } from "./metrics.ts";
import { PairingAndCleanup } from "./pairing-and-cleanup.ts";
import { FakeInformer } from "./test-support/fake-informer.ts";

const pairingCm = (enabled: string, rv: string): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "devreg-pairing", namespace: "ns", resourceVersion: rv },
  data: { enabled },
});

/** Rejected a second ago because pairing was closed: waiting (or an open window) fixes it. */
const rejectedWhileClosed: DeviceRegistration = {
  apiVersion: "devices.example.com/v1alpha1",
  kind: "DeviceRegistration",
  metadata: { name: "dev-a", namespace: "ns", generation: 1, uid: "u", resourceVersion: "3" },
  spec: { publicKey: "pk", deviceId: "a", model: "m" },
  status: {
    phase: "Rejected",
    reason: "PairingDisabled",
    observedGeneration: 1,
    decidedAt: new Date(Date.now() - 1000).toISOString(),
  },
};

function setup() {
  const deleted: string[] = [];
  const rest = {
    request: async (method: string, path: string) => {
      if (method === "DELETE") deleted.push(path);
      return {};
    },
  } as unknown as KubeRest;
  const regs = {
    rest,
    itemPath: (name: string) => `/regs/${name}`,
    delete: async (name: string) => void deleted.push(`/regs/${name}`),
  } as unknown as Registrations;
  const registrations = new FakeInformer<DeviceRegistration>();
  registrations.put(rejectedWhileClosed);
  const pairingConfigMap = new FakeInformer<ConfigMap>();
  pairingConfigMap.put(pairingCm("false", "1"));
  const caches = { regs, registrations, pairingConfigMap } as unknown as ConstructorParameters<
    typeof PairingAndCleanup
  >[0]["caches"];
  const cfg = parseOperatorConfig({ namespace: "ns" });
  const events: string[] = [];
  const p = new PairingAndCleanup({
    api: rest,
    cfg,
    caches,
    log: silentLogger(),
    metrics: createMetrics(),
    recordEvent: (_ref, _type, reason) => void events.push(reason),
  });
  return { p, deleted, events, pairingConfigMap };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("PairingAndCleanup", () => {
  it("as leader, sweeps the rejections an opening window fixes, at once", async () => {
    const t = setup();
    t.p.startLeading();
    await tick();
    expect(t.deleted).toEqual([]); // closed: the retryable rejection waits out its TTL
    t.pairingConfigMap.put(pairingCm("true", "2"));
    await tick();
    expect(t.p.state().open).toBe(true);
    expect(t.deleted).toEqual(["/regs/dev-a"]);
    expect(t.events).toContain("PairingWindowOpened");
    t.p.stopLeading();
  });

  it("as a standby, follows the window but neither sweeps nor records Events", async () => {
    const t = setup();
    t.pairingConfigMap.put(pairingCm("true", "2"));
    await tick();
    expect(t.p.state().open).toBe(true);
    expect(t.deleted).toEqual([]);
    expect(t.events).toEqual([]);
  });
});
