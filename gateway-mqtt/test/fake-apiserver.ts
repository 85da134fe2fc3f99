import { mkdtempSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PAIRING_CONFIGMAP } from "@devreg/kube";
import { writeKubeconfig } from "../../kube/test-support/kubeconfig-file.ts";

export type CreateBehaviour =
  | { kind: "ok" }
  | { kind: "hang" }
  | { kind: "status"; code: number; retryAfter?: number }
  | { kind: "reset" };

/**
 * A scriptable stand-in for kube-apiserver (plain HTTP) for failures the real one will not
 * produce on demand: throttling (429), outages, and writes that hang. It serves an empty
 * DeviceRegistration list, the pairing ConfigMap (`pairing`), an empty DeviceAllowance
 * list, holds watches open, and answers creates as `create` says.
 */
export class FakeApiserver {
  create: CreateBehaviour = { kind: "ok" };
  /**
   * The pairing ConfigMap's data, or undefined for none. Open by default: with pairing closed
   * the gateway refuses a new key without any write (issue 14), and the writes are what these
   * tests script. Read at each list, so set it before the gateway starts.
   */
  pairing: Record<string, string> | undefined = { enabled: "true" };
  /** Status the created object comes back with (as if decided at once). */
  createdStatus: Record<string, unknown> | undefined;
  creates = 0;
  private readonly server: http.Server;
  private readonly hung: Array<{ res: http.ServerResponse; body: string }> = [];
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  kubeconfig = "";

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), "devreg-fake-api-"));
    this.kubeconfig = writeKubeconfig(join(dir, "kubeconfig"), `http://127.0.0.1:${this.port}`);
  }

  /** Lets every hung create finish with 201. */
  releaseHung(): void {
    for (const h of this.hung.splice(0)) this.created(h.res, h.body);
  }

  private created(res: http.ServerResponse, body: string): void {
    const obj = JSON.parse(body || "{}") as { metadata?: Record<string, unknown> };
    const out = {
      ...obj,
      metadata: { ...(obj.metadata ?? {}), resourceVersion: "2", generation: 1 },
      status: this.createdStatus,
    };
    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(out));
  }

  private list(res: http.ServerResponse, items: unknown[]): void {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "1" }, items }));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.searchParams.get("watch")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(""); // hold the watch open until the client goes away
      return;
    }
    if (req.method === "GET" && /\/(deviceregistrations|deviceallowances)$/.test(url.pathname)) {
      this.list(res, []);
      return;
    }
    if (req.method === "GET" && url.pathname.endsWith("/configmaps")) {
      const ns = url.pathname.split("/")[4] ?? "";
      const items =
        this.pairing === undefined
          ? []
          : [
              {
                metadata: { name: PAIRING_CONFIGMAP, namespace: ns, resourceVersion: "1" },
                data: this.pairing,
              },
            ];
      this.list(res, items);
      return;
    }
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.creates++;
        const body = Buffer.concat(chunks).toString();
        const b = this.create;
        if (b.kind === "ok") return this.created(res, body);
        if (b.kind === "hang") {
          this.hung.push({ res, body });
          return;
        }
        if (b.kind === "reset") {
          req.socket.destroy();
          return;
        }
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (b.retryAfter !== undefined) headers["retry-after"] = String(b.retryAfter);
        res.writeHead(b.code, headers).end(
          JSON.stringify({
            kind: "Status",
            status: "Failure",
            code: b.code,
            reason: b.code === 429 ? "TooManyRequests" : "ServiceUnavailable",
            message: "scripted",
          }),
        );
      });
      return;
    }
    res
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ kind: "Status", code: 404, reason: "NotFound" }));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
