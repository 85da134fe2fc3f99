import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { RuntimeError, errorText } from "./errors.ts";

export interface HealthServerOptions {
  host: string;
  port: number;
  registry: Registry;
  log?: Logger;
  /** Why the process is not live (a restart would help), or undefined. */
  unhealthy?: () => string | undefined;
  /** Why the process should get no traffic now (starting, stopping, saturated), or undefined. */
  notReady: () => string | undefined;
}

export interface HealthServer {
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/**
 * The one health and metrics server of every devreg process, on its own port (never shown to
 * devices):
 *   /healthz, /livez  200 while live; 503 with the reason otherwise
 *   /readyz           200 when ready; 503 "not ready: <why>" while starting, stopping or saturated
 *   /metrics          Prometheus text of the process's registry
 * GET and HEAD only.
 */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const text = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`${body}\n`);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return text(405, "method not allowed");
    }
    if (path === "/healthz" || path === "/livez") {
      const why = opts.unhealthy?.();
      return why ? text(503, `unhealthy: ${why}`) : text(200, "ok");
    }
    if (path === "/readyz") {
      const why = opts.notReady();
      return why ? text(503, `not ready: ${why}`) : text(200, "ok");
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(body),
        (e: unknown) => {
          opts.log?.error({ err: errorText(e) }, "metrics collection failed");
          text(500, "metrics collection failed");
        },
      );
      return;
    }
    text(404, "not found");
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new RuntimeError(
          "E_LISTEN",
          `health server cannot listen on ${opts.host}:${opts.port}: ${e.code ?? e.message}`,
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
