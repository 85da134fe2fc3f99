import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startHealthServer } from "./health-server.ts";

describe("health server", () => {
  it("answers liveness, readiness with the reason, metrics, and refuses other methods", async () => {
    let why: string | undefined = "starting";
    const registry = new Registry();
    const hs = await startHealthServer({ host: "127.0.0.1", port: 0, registry, notReady: () => why });
    const url = (p: string) => `http://127.0.0.1:${hs.port}${p}`;
    try {
      expect((await fetch(url("/healthz"))).status).toBe(200);
      const r = await fetch(url("/readyz"));
      expect([r.status, await r.text()]).toEqual([503, "not ready: starting\n"]);
      why = undefined;
      expect((await fetch(url("/readyz"))).status).toBe(200);
      expect((await fetch(url("/metrics"))).headers.get("content-type")).toContain("text/plain");
      expect((await fetch(url("/readyz"), { method: "POST" })).status).toBe(405);
      expect((await fetch(url("/nope"))).status).toBe(404);
      await expect(
        startHealthServer({ host: "127.0.0.1", port: hs.port, registry, notReady: () => undefined }),
      ).rejects.toMatchObject({ code: "E_LISTEN" });
    } finally {
      await hs.close();
    }
  });
});
