import type { DeviceAllowance, DeviceRegistration } from "@devreg/kube";
import { silentLogger } from "@devreg/runtime";
import { describe, expect, it } from "vitest";
import { Controller, type ControllerDeps } from "./controller.ts";
import { KeyIndex } from "./key-owner.ts";
import { FakeInformer } from "./test-support/fake-informer.ts";

const reg = (name: string, publicKey: string, decided = false): DeviceRegistration => ({
  apiVersion: "devices.example.com/v1alpha1",
  kind: "DeviceRegistration",
  metadata: { name, namespace: "ns", generation: 1 },
  spec: { publicKey, deviceId: name, model: "m" },
  ...(decided ? { status: { phase: "Approved", observedGeneration: 1 } } : {}),
});

function setup() {
  const registrations = new FakeInformer<DeviceRegistration>();
  const allowances = new FakeInformer<DeviceAllowance>();
  const keyIndex = new KeyIndex();
  registrations.on("add", (r: DeviceRegistration) => keyIndex.set(`ns/${r.metadata.name}`, r));
  const reconciled: string[] = [];
  const observed: string[] = [];
  let release: () => void = () => {};
  const reconciler = {
    reconcile: async (key: string) => {
      reconciled.push(key);
      await new Promise<void>((r) => {
        release = r;
      });
    },
    observed: (key: string) => void observed.push(key),
  };
  const caches = { registrations, allowances, keyIndex } as unknown as ControllerDeps["caches"];
  const controller = new Controller({ caches, reconciler, concurrency: 1, log: silentLogger() });
  return { controller, registrations, allowances, reconciled, observed, release: () => release() };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("Controller", () => {
  it("observes every event but queues work only while leading, level-triggered on taking over", async () => {
    const t = setup();
    t.registrations.put(reg("a", "k1"));
    t.registrations.put(reg("done", "k2", true));
    expect(t.observed).toEqual(["ns/a", "ns/done"]);
    expect(t.reconciled).toEqual([]);
    expect(t.controller.depth).toBe(0);

    t.controller.startLeading();
    t.registrations.put(reg("b", "k3"));
    await tick();
    expect(t.reconciled).toEqual(["ns/a"]); // concurrency 1: b waits, the decided one never comes
    expect(t.controller.depth).toBe(1);

    const stopped = t.controller.stopLeading();
    t.release();
    await stopped;
    expect(t.controller.depth).toBe(0);
    t.registrations.put(reg("c", "k4"));
    await tick();
    expect(t.reconciled).toEqual(["ns/a"]);
  });

  it("an allowance re-queues the registrations waiting for its key, only while leading", async () => {
    const t = setup();
    t.registrations.put(reg("waiting", "pk"));
    t.allowances.put({
      metadata: { name: "al", namespace: "ns" },
      spec: { publicKey: "pk" },
    } as DeviceAllowance);
    expect(t.reconciled).toEqual([]);
    t.controller.startLeading();
    await tick();
    t.release();
    await tick();
    expect(t.reconciled).toEqual(["ns/waiting"]);
    t.allowances.put({
      metadata: { name: "al2", namespace: "ns" },
      spec: { publicKey: "pk" },
    } as DeviceAllowance);
    await tick();
    expect(t.reconciled).toEqual(["ns/waiting", "ns/waiting"]);
    t.release();
    await t.controller.stopLeading();
  });
});
