import http from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { KubeError } from "./errors.ts";
import { type ExchangeRequest, exchange } from "./exchange.ts";

// exchange() directly, for what KubeRest's fixed settings do not reach in a test: the answer size
// bound, and a body that cannot be turned into text.
describe("exchange", () => {
  let server: http.Server;
  let pool: Pool;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      if (req.url === "/big") {
        // 8 chunks of 64 KiB, more than the 256 KiB bound below.
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(64 * 1024, 0x20));
        res.end();
      } else res.end(req.url === "/marker" ? '"MARKER"' : '{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  });
  afterAll(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const req = (path: string, over: Partial<ExchangeRequest> = {}): ExchangeRequest => ({
    method: "GET",
    path,
    label: `GET ${path}`,
    headers: {},
    body: undefined,
    timeoutMs: 2_000,
    maxBytes: 256 * 1024,
    signal: undefined,
    ...over,
  });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail("resolved"),
      (e: KubeError) => e,
    );

  it("fails with E_KUBE_HTTP once the answer passes maxBytes, and the pool keeps serving", async () => {
    expect(await failure(exchange(pool, req("/big")))).toMatchObject({
      code: "E_KUBE_HTTP",
      message: "GET /big: answer larger than 262144 bytes",
    });
    expect((await exchange(pool, req("/small"))).text).toBe('{"ok":true}');
    expect((await exchange(pool, req("/big", { maxBytes: 1024 * 1024 }))).text).toHaveLength(512 * 1024);
  });

  it("rejects (never hangs) when the body cannot be made text", async () => {
    const original = Buffer.prototype.toString;
    const spy = vi.spyOn(Buffer.prototype, "toString").mockImplementation(function (this: Buffer, ...args) {
      const s = original.apply(this, args as Parameters<Buffer["toString"]>);
      if (s === '"MARKER"') throw new Error("Cannot create a string longer than 0x1fffffe8 characters");
      return s;
    });
    try {
      const outcome = await Promise.race([
        failure(exchange(pool, req("/marker", { timeoutMs: 300 }))),
        new Promise((r) => setTimeout(() => r("still pending after 1 s"), 1_000)),
      ]);
      expect(outcome).toMatchObject({
        code: "E_KUBE_HTTP",
        message: expect.stringContaining("answer not readable"),
      });
    } finally {
      spy.mockRestore();
    }
  });
});
