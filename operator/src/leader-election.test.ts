import { KubeError, type KubeRest } from "@devreg/kube";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaderElector, microTime, standbyWaitMs } from "./leader-election.ts";

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: Record<string, unknown>;
}

/** An apiserver with one Lease: GET/POST/PUT with resourceVersion preconditions. */
function fakeApi() {
  let lease: Lease | undefined;
  let rv = 0;
  const rest = {
    request: async (method: string, _path: string, o: { body?: Lease } = {}) => {
      if (method === "GET") {
        if (!lease) throw new KubeError("E_KUBE_NOT_FOUND", "not found", 404);
        return structuredClone(lease);
      }
      if (method === "POST") {
        if (lease) throw new KubeError("E_KUBE_ALREADY_EXISTS", "exists", 409);
        lease = {
          ...structuredClone(o.body as Lease),
          metadata: { ...(o.body as Lease).metadata, resourceVersion: String(++rv) },
        };
        return structuredClone(lease);
      }
      if (method === "PUT") {
        if (o.body?.metadata.resourceVersion !== lease?.metadata.resourceVersion)
          throw new KubeError("E_KUBE_CONFLICT", "conflict", 409);
        lease = {
          ...structuredClone(o.body as Lease),
          metadata: { ...(o.body as Lease).metadata, resourceVersion: String(++rv) },
        };
        return structuredClone(lease);
      }
      throw new Error(method);
    },
  } as unknown as KubeRest;
  return { rest, holder: () => lease?.spec.holderIdentity };
}

function elector(rest: KubeRest, identity: string, events: string[]) {
  return new LeaderElector(rest, {
    namespace: "ns",
    name: "devreg-operator",
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
    log: pino({ level: "silent" }),
    onStartedLeading: () => events.push(`${identity} started`),
    onStoppedLeading: () => {
      events.push(`${identity} stopped`);
    },
  });
}

/** Replica a starts first and leads; b starts 10 ms later; then `ms` pass. */
async function aLeadsBFollows(ms: number) {
  const api = fakeApi();
  const events: string[] = [];
  const a = elector(api.rest, "a", events);
  const b = elector(api.rest, "b", events);
  a.start();
  await vi.advanceTimersByTimeAsync(10);
  b.start();
  await vi.advanceTimersByTimeAsync(ms);
  return { api, events, a, b };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("LeaderElector", () => {
  it("formats MicroTime with exactly six fractional digits", () => {
    expect(microTime(new Date("2025-06-01T12:00:00.123Z"))).toBe("2025-06-01T12:00:00.123000Z");
  });

  it("rejects timings client-go would reject", () => {
    const { rest } = fakeApi();
    const base = {
      namespace: "n",
      name: "l",
      identity: "i",
      log: pino({ level: "silent" }),
      onStartedLeading() {},
      onStoppedLeading() {},
    };
    expect(
      () => new LeaderElector(rest, { ...base, leaseDurationMs: 10, renewDeadlineMs: 10, retryPeriodMs: 1 }),
    ).toThrow(RangeError);
    expect(
      () => new LeaderElector(rest, { ...base, leaseDurationMs: 30, renewDeadlineMs: 10, retryPeriodMs: 9 }),
    ).toThrow(RangeError);
  });

  it("one leader; a crashed leader's lease is taken only after leaseDuration on the standby's clock", async () => {
    const { api, events, a, b } = await aLeadsBFollows(5000);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(api.holder()).toBe("a");

    await a.stop({ release: false }); // a crash: the lease still names a
    const crashedAt = Date.now();
    // b last saw the record change at most one poll (<= 600 ms) before the crash, so the lease
    // cannot look expired to b before 2,400 ms, and must by 3,600 ms.
    await vi.advanceTimersByTimeAsync(2300);
    expect(b.isLeader()).toBe(false); // not before the lease can have expired
    await vi.advanceTimersByTimeAsync(1700);
    expect(b.isLeader()).toBe(true);
    expect(Date.now() - crashedAt).toBeLessThanOrEqual(3000 + 2 * 500 * 1.2);
    expect(api.holder()).toBe("b");
    expect(events).toEqual(["a started", "a stopped", "b started"]);
    await b.stop({ release: true });
    expect(api.holder()).toBe("");
  });

  it("a crashed leader is replaced within leaseDuration + 0.6 x retryPeriod of the crash", async () => {
    const { a, b } = await aLeadsBFollows(4321); // any phase of the renew/poll cycles
    await a.stop({ release: false });
    const crashedAt = Date.now();
    while (!b.isLeader() && Date.now() - crashedAt < 10_000) await vi.advanceTimersByTimeAsync(10);
    const takeover = Date.now() - crashedAt;
    expect(takeover).toBeGreaterThanOrEqual(3000 - 500); // never before the lease can have expired
    expect(takeover).toBeLessThanOrEqual(3000 + 0.6 * 500 + 20);
    await b.stop({ release: true });
  });

  it("a replica restarted with the same identity reclaims its own lease at once", async () => {
    const api = fakeApi();
    const events: string[] = [];
    const a = elector(api.rest, "op-a", events);
    a.start();
    await vi.advanceTimersByTimeAsync(1000);
    await a.stop({ release: false }); // SIGKILL: the lease still names op-a
    const again = elector(api.rest, "op-a", events);
    again.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(again.isLeader()).toBe(true);
    await again.stop({ release: true });
  });

  it("standby wait: half the retry period, cut short to wake when the lease it saw expires", () => {
    expect(standbyWaitMs(2000, undefined, 0, 0)).toBe(1000);
    expect(standbyWaitMs(2000, undefined, 0, 1)).toBe(1200);
    expect(standbyWaitMs(2000, 10_300, 10_000, 0)).toBe(305);
    expect(standbyWaitMs(2000, 9_000, 10_000, 0)).toBe(0);
  });

  it("a released lease is taken at the next retry, not after leaseDuration", async () => {
    const { api, a, b } = await aLeadsBFollows(2000);
    await a.stop({ release: true });
    expect(api.holder()).toBe("");
    await vi.advanceTimersByTimeAsync(700);
    expect(b.isLeader()).toBe(true);
    await b.stop({ release: true });
  });

  it("a stop that arrives while the lease is being won still releases it", async () => {
    const api = fakeApi();
    const events: string[] = [];
    // The first request (the GET/POST that wins the lease) answers only after stop() began.
    let answer: (() => void) | undefined;
    const slow = {
      request: async (...args: Parameters<KubeRest["request"]>) => {
        if (answer === undefined) await new Promise<void>((r) => (answer = r));
        return api.rest.request(...args);
      },
    } as unknown as KubeRest;
    const a = elector(slow, "a", events);
    a.start();
    await vi.advanceTimersByTimeAsync(1);
    const stopped = a.stop({ release: true });
    answer?.();
    await stopped;
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual([]);
    expect(api.holder()).toBe("");
  });

  it("a leader that cannot renew steps down after renewDeadline", async () => {
    const api = fakeApi();
    const events: string[] = [];
    let down = false;
    const flaky = {
      request: (m: string, p: string, o: unknown) =>
        down
          ? Promise.reject(new KubeError("E_KUBE_UNAVAILABLE", "down"))
          : (api.rest.request as (...a: unknown[]) => Promise<unknown>)(m, p, o),
    } as unknown as KubeRest;
    const a = elector(flaky, "a", events);
    a.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.isLeader()).toBe(true);
    down = true;
    await vi.advanceTimersByTimeAsync(1500);
    expect(a.isLeader()).toBe(true); // still within renewDeadline
    await vi.advanceTimersByTimeAsync(1500);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(["a started", "a stopped"]);
    await a.stop({ release: false });
  });
});
