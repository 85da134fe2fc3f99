import type { KubeRest } from "@devreg/kube";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventRecorder } from "./events.ts";

const ref = {
  apiVersion: "devices.example.com/v1alpha1",
  kind: "DeviceRegistration",
  name: "dev-a",
  namespace: "ns",
  uid: "u1",
};

function fakeRest(latencyMs: number) {
  const bodies: Array<Record<string, unknown>> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const rest = {
    request: async (_m: string, _p: string, o: { body: Record<string, unknown> }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, latencyMs));
      inFlight--;
      bodies.push(o.body);
      return o.body;
    },
  } as unknown as KubeRest;
  return { rest, bodies, maxInFlight: () => maxInFlight };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("EventRecorder", () => {
  it("record() returns at once; a full queue drops and counts; senders stay bounded", async () => {
    const f = fakeRest(50);
    let dropped = 0;
    let sent = 0;
    const r = new EventRecorder(f.rest, {
      component: "devreg-operator",
      instance: "op-1",
      queueSize: 5,
      concurrency: 2,
      qps: 1000,
      burst: 1000,
      log: pino({ level: "silent" }),
      onDropped: () => dropped++,
      onSent: () => sent++,
    });
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) r.record(ref, "Normal", "Approved", `m${i}`);
    expect(performance.now() - t0).toBeLessThan(50);
    // 2 went straight to senders, 5 queued, 13 dropped.
    expect(dropped).toBe(13);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toBe(7);
    expect(f.maxInFlight()).toBe(2);
    const ev = f.bodies[0] as Record<string, unknown>;
    expect(ev).toMatchObject({
      kind: "Event",
      involvedObject: ref,
      type: "Normal",
      reason: "Approved",
      message: "m0",
      count: 1,
      source: { component: "devreg-operator", host: "op-1" },
      metadata: { namespace: "ns" },
    });
    expect((ev.metadata as { name: string }).name).toMatch(/^dev-a\.[0-9a-f]+$/);
    expect(new Set(f.bodies.map((b) => (b.metadata as { name: string }).name)).size).toBe(7);
  });

  it("sends no faster than qps after the burst", async () => {
    const f = fakeRest(1);
    const r = new EventRecorder(f.rest, {
      component: "c",
      instance: "i",
      queueSize: 100,
      concurrency: 4,
      qps: 10,
      burst: 3,
      log: pino({ level: "silent" }),
    });
    for (let i = 0; i < 20; i++) r.record(ref, "Warning", "Rejected", "x");
    await vi.advanceTimersByTimeAsync(10);
    expect(f.bodies.length).toBe(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(f.bodies.length).toBeGreaterThanOrEqual(12);
    expect(f.bodies.length).toBeLessThanOrEqual(14);
    void r.stop();
  });
});

describe("EventRecorder yields to decisions", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends nothing while yieldWhile() says busy, then catches up", async () => {
    const f = fakeRest(1);
    let backlog = true;
    const r = new EventRecorder(f.rest, {
      component: "c",
      instance: "i",
      queueSize: 100,
      concurrency: 2,
      qps: 1000,
      burst: 1000,
      log: pino({ level: "silent" }),
    });
    r.yieldWhile(() => backlog);
    for (let i = 0; i < 5; i++) r.record(ref, "Normal", "Approved", "x");
    await vi.advanceTimersByTimeAsync(2000);
    expect(f.bodies).toHaveLength(0);
    expect(r.pending).toBe(5);
    backlog = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(f.bodies).toHaveLength(5);
  });
});
