import { getEventListeners } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { plainHttpClient } from "../test-support/fake-apiserver.ts";
import type { KubeError } from "./errors.ts";
import type { KubeRest, KubeRestOptions } from "./rest.ts";

/** What a test route sees and does; an unanswered request stays open until the test ends. */
type Route = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

// request() on a local node:http server: every answer, failure and timeout maps to its KubeError,
// and no failure leaves a connection stuck (the clients here have ONE connection, so a stuck
// one would time out the next request).
describe("KubeRest.request", () => {
  const routes = new Map<string, Route>();
  const sockets = new Set<import("node:net").Socket>();
  let connections = 0;
  let server: http.Server;
  let base: string;
  const clients: KubeRest[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const route = routes.get(new URL(req.url ?? "/", "http://x").pathname);
        if (route) route(req, Buffer.concat(chunks).toString(), res);
        else json(res, 200, { ok: true });
      });
    });
    server.on("connection", (s) => {
      connections++;
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    routes.clear();
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function client(opts: KubeRestOptions = {}, token?: string): Promise<KubeRest> {
    const c = await plainHttpClient(base, { maxSockets: 1, ...opts }, token);
    clients.push(c);
    return c;
  }

  function json(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: http.OutgoingHttpHeaders = {},
  ) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail("resolved"),
      (e: KubeError) => e,
    );

  it("sends the body, content type, query, credentials and our headers; parses the answer", async () => {
    let seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string } | undefined;
    routes.set("/echo", (req, body, res) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      json(res, 201, { created: true });
    });
    const rest = await client({}, "tok-1");
    const out = await rest.request("PATCH", "/echo", {
      body: { spec: { a: 1 } },
      contentType: "application/merge-patch+json",
      query: { fieldManager: "m", dryRun: undefined },
    });
    expect(out).toEqual({ created: true });
    expect(seen).toMatchObject({ method: "PATCH", url: "/echo?fieldManager=m", body: '{"spec":{"a":1}}' });
    expect(seen?.headers).toMatchObject({
      authorization: "Bearer tok-1",
      accept: "application/json",
      "content-type": "application/merge-patch+json",
      "content-length": "16",
    });
    expect(seen?.headers["user-agent"]).toMatch(/^devreg\//);
  });

  it("resolves an empty 2xx body as undefined and rejects a non-JSON one with E_KUBE_HTTP", async () => {
    routes.set("/empty", (_req, _b, res) => res.writeHead(200).end());
    routes.set("/html", (_req, _b, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>"));
    const rest = await client();
    expect(await rest.request("DELETE", "/empty")).toBeUndefined();
    expect(await failure(rest.request("GET", "/html"))).toMatchObject({
      code: "E_KUBE_HTTP",
      status: 200,
      message: "GET /html: response is not JSON",
    });
  });

  it("maps non-2xx answers by status and reason, with Retry-After", async () => {
    routes.set("/exists", (_r, _b, res) =>
      json(res, 409, { kind: "Status", reason: "AlreadyExists", message: "dup" }),
    );
    routes.set("/conflict", (_r, _b, res) =>
      json(res, 409, { kind: "Status", reason: "Conflict", message: "old rv" }),
    );
    routes.set("/busy", (_r, _b, res) => json(res, 429, { message: "slow down" }, { "retry-after": "3" }));
    routes.set("/down", (_r, _b, res) => res.writeHead(503, { "retry-after": "x" }).end("upstream gone"));
    const rest = await client();
    expect(await failure(rest.request("POST", "/exists", { body: {} }))).toMatchObject({
      code: "E_KUBE_ALREADY_EXISTS",
      status: 409,
      message: "POST /exists: 409 dup",
    });
    expect(await failure(rest.request("PUT", "/conflict", { body: {} }))).toMatchObject({
      code: "E_KUBE_CONFLICT",
    });
    expect(await failure(rest.request("GET", "/busy"))).toMatchObject({
      code: "E_KUBE_THROTTLED",
      status: 429,
      retryAfterSeconds: 3,
    });
    const down = await failure(rest.request("GET", "/down"));
    expect(down).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      status: 503,
      message: "GET /down: 503 upstream gone",
    });
    expect(down.retryAfterSeconds).toBeUndefined();
  });

  it("tells onAnswered listeners about a 2xx, not about an error status", async () => {
    routes.set("/nope", (_r, _b, res) => json(res, 404, {}));
    const rest = await client();
    let calls = 0;
    rest.onAnswered(() => calls++);
    await failure(rest.request("GET", "/nope"));
    expect(calls).toBe(0);
    await rest.request("GET", "/ok");
    expect(calls).toBe(1);
  });

  it("times out with E_KUBE_TIMEOUT (per request and by default) and the connection is replaced", async () => {
    routes.set("/hang", () => {});
    const rest = await client({ timeoutMs: 150 });
    const t0 = Date.now();
    expect(await failure(rest.request("GET", "/hang"))).toMatchObject({
      code: "E_KUBE_TIMEOUT",
      message: "GET /hang: no answer in 150 ms",
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(600); // a native timer, not undici's coarse one (up to 1 s late)
    expect(await failure(rest.request("GET", "/hang", { timeoutMs: 60 }))).toMatchObject({
      code: "E_KUBE_TIMEOUT",
      message: "GET /hang: no answer in 60 ms",
    });
    expect(await rest.request("GET", "/ok")).toEqual({ ok: true });
  });

  it("times out when the body stalls after the headers", async () => {
    routes.set("/stall", (_r, _b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"items":[');
    });
    const rest = await client();
    expect(await failure(rest.request("GET", "/stall", { timeoutMs: 100 }))).toMatchObject({
      code: "E_KUBE_TIMEOUT",
    });
    expect(await rest.request("GET", "/ok")).toEqual({ ok: true });
  });

  it("bounds the wait between body chunks, not the whole answer", async () => {
    routes.set("/trickle", (_r, _b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const parts = ["[", "1,", "2,", "3,", "4", "]"];
      const tick = setInterval(() => {
        res.write(parts.shift());
        if (parts.length === 0) {
          clearInterval(tick);
          res.end();
        }
      }, 60);
    });
    const rest = await client();
    expect(await rest.request("GET", "/trickle", { timeoutMs: 200 })).toEqual([1, 2, 3, 4]); // ~360 ms in all
  });

  it("counts the wait for a connection: a request queued behind a hung one times out on time", async () => {
    routes.set("/hang", () => {});
    const rest = await client(); // one connection
    const opened = connections;
    const hung = failure(rest.request("GET", "/hang", { timeoutMs: 400 }));
    const t0 = Date.now();
    expect(await failure(rest.request("GET", "/ok", { timeoutMs: 100 }))).toMatchObject({
      code: "E_KUBE_TIMEOUT",
    });
    expect(Date.now() - t0).toBeLessThan(300);
    const ac = new AbortController();
    const queued = failure(rest.request("GET", "/ok", { signal: ac.signal }));
    ac.abort();
    expect(await queued).toMatchObject({ code: "E_KUBE_TIMEOUT", message: "GET /ok: aborted" });
    expect(await hung).toMatchObject({ code: "E_KUBE_TIMEOUT" });
    expect(await rest.request("GET", "/ok")).toEqual({ ok: true });
    // The hung request's connection was destroyed; the two dropped from the queue cost none.
    expect(connections - opened).toBe(2);
  });

  it("rejects with E_KUBE_TIMEOUT when the caller aborts, leaves no listener, and keeps serving", async () => {
    let arrived!: () => void;
    const hung = new Promise<void>((r) => (arrived = r));
    routes.set("/hang", () => arrived());
    const rest = await client();
    const ac = new AbortController();
    const pending = failure(rest.request("GET", "/hang", { signal: ac.signal }));
    await hung;
    ac.abort();
    expect(await pending).toMatchObject({ code: "E_KUBE_TIMEOUT", message: "GET /hang: aborted" });
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    // Aborted before it starts: never sent.
    let sent = false;
    routes.set("/never", (_r, _b, res) => {
      sent = true;
      json(res, 200, {});
    });
    expect(await failure(rest.request("GET", "/never", { signal: ac.signal }))).toMatchObject({
      code: "E_KUBE_TIMEOUT",
    });
    expect(sent).toBe(false);
    expect(await rest.request("GET", "/ok", { signal: new AbortController().signal })).toEqual({ ok: true });
  });

  it("aborts while the body streams in", async () => {
    let started!: () => void;
    const streaming = new Promise<void>((r) => (started = r));
    routes.set("/stream", (_r, _b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("[");
      started();
    });
    const rest = await client();
    const ac = new AbortController();
    const pending = failure(rest.request("GET", "/stream", { signal: ac.signal }));
    await streaming;
    ac.abort();
    expect(await pending).toMatchObject({ code: "E_KUBE_TIMEOUT" });
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    expect(await rest.request("GET", "/ok")).toEqual({ ok: true });
  });

  it("maps a refused connection and a reset to E_KUBE_UNAVAILABLE naming the request", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await plainHttpClient(`http://127.0.0.1:${port}`);
    clients.push(refused);
    expect(await failure(refused.request("POST", "/apis/x", { body: {} }))).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      message: expect.stringMatching(/^POST \/apis\/x: .*ECONNREFUSED/),
    });

    routes.set("/reset", (req) => req.socket.destroy());
    const rest = await client();
    expect(await failure(rest.request("GET", "/reset"))).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      message: expect.stringMatching(/^GET \/reset: /),
    });
    expect(await rest.request("GET", "/ok")).toEqual({ ok: true });
  });

  it("opens at most maxSockets connections and reuses them", async () => {
    const rest = await client({ maxSockets: 2 });
    // While a connection is being opened undici queues on it: warm up, so the burst needs a second one.
    await rest.request("GET", "/ok");
    const before = sockets.size - 1;
    let peak = 0;
    routes.set("/slow", (_r, _b, res) => {
      peak = Math.max(peak, sockets.size - before);
      setTimeout(() => json(res, 200, {}), 20);
    });
    await Promise.all(Array.from({ length: 8 }, () => rest.request("GET", "/slow")));
    expect(peak).toBe(2);
    expect(sockets.size - before).toBe(2); // kept alive for the next requests
  });

  it("after close(), fails requests in flight and refuses new ones with E_KUBE_UNAVAILABLE", async () => {
    let arrived!: () => void;
    const hung = new Promise<void>((r) => (arrived = r));
    routes.set("/hang", () => arrived());
    const rest = await client();
    const inFlight = failure(rest.request("GET", "/hang"));
    await hung;
    rest.close();
    expect(await inFlight).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      message: "GET /hang: client is closed",
    });
    expect(await failure(rest.request("GET", "/ok"))).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      message: "GET /ok: client is closed",
    });
  });
});
