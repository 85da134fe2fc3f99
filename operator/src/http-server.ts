import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { OperatorError } from "./errors.ts";

export interface ProbeServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** undefined = healthy; otherwise why not. */
  unhealthy: () => string | undefined;
  /** undefined = ready; otherwise why not. */
  notReady: () => string | undefined;
}

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

/** /healthz, /readyz and /metrics on one small HTTP server. */
export async function startProbeServer(opts: ProbeServerOptions): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const text = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${body}\n`);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed");
    if (path === "/healthz" || path === "/livez") {
      const why = opts.unhealthy();
      return why ? text(503, why) : text(200, "ok");
    }
    if (path === "/readyz") {
      const why = opts.notReady();
      return why ? text(503, why) : text(200, "ok");
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": opts.registry.contentType });
          res.end(body);
        },
        (err: Error) => text(500, `metrics: ${err.message}`),
      );
      return;
    }
    text(404, "not found");
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new OperatorError("E_HTTP_LISTEN", `cannot listen on ${opts.host}:${opts.port}: ${e.code ?? e.message}`)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
