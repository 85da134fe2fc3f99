import { KubeError, type KubeRest } from "@devreg/kube";
import { Lifecycle, silentLogger } from "@devreg/runtime";
import { describe, expect, it } from "vitest";
import { Caches } from "./caches.ts";
import { parseOperatorConfig } from "./config.ts";

/** An apiserver whose every list fails with `err`. */
function failingApi(err: Error): KubeRest {
  return {
    onAnswered: () => () => {},
    listAll: async () => {
      throw err;
    },
    watch: async () => {
      throw err;
    },
  } as unknown as KubeRest;
}

async function startFailing(err: Error, timeoutMs: number) {
  const caches = new Caches(failingApi(err), parseOperatorConfig({ namespace: "ns" }), silentLogger());
  const lc = new Lifecycle();
  caches.start(lc);
  try {
    await caches.synced(timeoutMs);
  } finally {
    await lc.stop();
  }
}

describe("Caches start-up", () => {
  it("surfaces a non-transient list error (e.g. RBAC) at once", async () => {
    const forbidden = new KubeError("E_KUBE_FORBIDDEN", "registrations is forbidden", 403);
    const t0 = Date.now();
    await expect(startFailing(forbidden, 10_000)).rejects.toBe(forbidden);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("waits out transient errors, then fails with E_START_TIMEOUT", async () => {
    const unavailable = new KubeError("E_KUBE_UNAVAILABLE", "apiserver is starting", 503);
    await expect(startFailing(unavailable, 200)).rejects.toMatchObject({ code: "E_START_TIMEOUT" });
  });
});
