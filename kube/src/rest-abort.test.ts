import { getEventListeners } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plainHttpClient } from "../test-support/fake-apiserver.ts";
import type { KubeRest } from "./rest.ts";

// Informers hand one long-lived AbortSignal to every list page and watch: each call must
// unhook its abort listener when it ends, or a long-running informer leaks one per call.
describe("KubeRest abort listeners", () => {
  let server: http.Server;
  let rest: KubeRest;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(req.url?.includes("watch=") ? '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n' : "{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    rest = await plainHttpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => {
    rest.close();
    server.close();
  });

  it("removes the listener after each request and watch", async () => {
    const ac = new AbortController();
    for (let i = 0; i < 12; i++) await rest.request("GET", "/x", { signal: ac.signal });
    for (let i = 0; i < 3; i++) await rest.watch("/w", {}, () => {}, ac.signal);
    await new Promise((r) => setTimeout(r, 50)); // "close" follows the response's end
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});
