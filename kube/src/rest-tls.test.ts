import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSigned } from "../test-support/self-signed.ts";
import type { KubeError } from "./errors.ts";
import { KubeRest } from "./rest.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

// request() over TLS: the kubeconfig's CA is trusted and nothing else; re-read credentials with
// a new CA or client cert move new requests to new connections while old ones finish; a
// rotated token alone keeps the connections.
describe("KubeRest.request over TLS", () => {
  const a = selfSigned();
  const b = selfSigned();
  let server: https.Server;
  let url: string;
  const closedSockets = new Set<Socket>();
  const clients: KubeRest[] = [];
  /** Per request path: the server socket it came on and its Authorization header. */
  const seen: { path: string; socket: Socket; auth?: string }[] = [];
  const slow = new Set<() => void>();

  beforeAll(async () => {
    server = https.createServer({ cert: a.cert, key: a.key }, (req, res) => {
      seen.push({ path: req.url ?? "", socket: req.socket, auth: req.headers.authorization });
      const answer = () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      if (req.url === "/slow") slow.add(answer);
      else answer();
    });
    server.on("secureConnection", (s: Socket) => s.on("close", () => closedSockets.add(s)));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function kubeconfig(kc: KubeConfig, ca: string, token: string): KubeConfig {
    kc.loadFromOptions({
      clusters: [{ name: "c", server: url, caData: b64(ca) }],
      users: [{ name: "u", token }],
      contexts: [{ name: "c", cluster: "c", user: "u" }],
      currentContext: "c",
    });
    return kc;
  }

  async function client(kc: KubeConfig, authRefreshMs?: number): Promise<KubeRest> {
    const c = await KubeRest.fromKubeConfig(kc, { authRefreshMs });
    clients.push(c);
    return c;
  }

  it("trusts the kubeconfig's CA, and fails with E_KUBE_UNAVAILABLE on any other", async () => {
    const good = await client(kubeconfig(new KubeConfig(), a.cert, "t"));
    expect(await good.request("GET", "/x")).toEqual({ ok: true });
    const wrongCa = await client(kubeconfig(new KubeConfig(), b.cert, "t"));
    const err = await wrongCa.request("GET", "/x").then(
      () => expect.fail("resolved"),
      (e: KubeError) => e,
    );
    expect(err).toMatchObject({
      code: "E_KUBE_UNAVAILABLE",
      message: expect.stringMatching(/^GET \/x: .*certificate/),
    });
  });

  it("keeps its connections when only the token changes; a new CA gets new ones, the old finish", async () => {
    const kc = kubeconfig(new KubeConfig(), a.cert, "t1");
    const rest = await client(kc, 0); // re-reads the kubeconfig before every request
    const from = seen.length;
    await rest.request("GET", "/one");
    kubeconfig(kc, a.cert, "t2");
    await rest.request("GET", "/two");
    expect(seen.slice(from).map((s) => s.auth)).toEqual(["Bearer t1", "Bearer t2"]);
    const old = new Set(seen.slice(from).map((s) => s.socket));
    await new Promise((r) => setTimeout(r, 100));
    expect([...old].filter((s) => closedSockets.has(s))).toEqual([]); // same pool: nothing closed

    // A request in flight on an old connection; then the server and the kubeconfig move to
    // certificate B. The old pool's connections (made trusting A) cannot serve new requests:
    // an idle one would be reused, a new one would fail its handshake.
    const inFlight = rest.request("GET", "/slow");
    await expect.poll(() => slow.size).toBe(1);
    const busy = seen.at(-1)!.socket;
    server.setSecureContext({ cert: b.cert, key: b.key });
    kubeconfig(kc, b.cert, "t2");
    expect(await rest.request("GET", "/three")).toEqual({ ok: true });
    expect(old.has(seen.at(-1)!.socket)).toBe(false);
    expect(closedSockets.has(busy)).toBe(false); // the old pool waits for its request
    for (const answer of slow) answer();
    expect(await inFlight).toEqual({ ok: true });
    await expect.poll(() => [...old].every((s) => closedSockets.has(s))).toBe(true);
    server.setSecureContext({ cert: a.cert, key: a.key });
  });

  it("close() also cuts off a request still in flight on a pool replaced by a credential change", async () => {
    slow.clear();
    const kc = kubeconfig(new KubeConfig(), a.cert, "t1");
    const rest = await client(kc, 0);
    const inFlight = rest.request("GET", "/slow", { timeoutMs: 10_000 }).then(
      () => "resolved",
      (e: KubeError) => e.message,
    );
    await expect.poll(() => slow.size).toBe(1);
    server.setSecureContext({ cert: b.cert, key: b.key });
    kubeconfig(kc, b.cert, "t1");
    expect(await rest.request("GET", "/other")).toEqual({ ok: true }); // now on a new pool
    const t0 = Date.now();
    rest.close();
    expect(await inFlight).toMatch(/client is closed/);
    expect(Date.now() - t0).toBeLessThan(1_000); // not its 10 s timeout
    for (const answer of slow) answer();
    server.setSecureContext({ cert: a.cert, key: a.key });
  });
});
