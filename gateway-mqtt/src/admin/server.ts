import http from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { errorText } from "../errors.ts";

export interface AdminDeps {
  registry: Registry;
  log: Logger;
  /** Why the gateway is not ready, or null when it is. */
  notReady(): string | null;
}

/**
 * Operator-facing endpoints, on their own port (never exposed to devices):
 *   /healthz  200 while the process runs its event loop
 *   /readyz   200 once the informer has synced and the listeners are up; 503 while
 *             starting or stopping (so the Service stops routing before connections close)
 *   /metrics  Prometheus text, prefix devreg_gateway_
 */
export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (url === "/readyz") {
      const why = deps.notReady();
      res
        .writeHead(why ? 503 : 200, { "content-type": "text/plain" })
        .end(why ? `not ready: ${why}\n` : "ok\n");
    } else if (url === "/metrics") {
      deps.registry
        .metrics()
        .then((text) => res.writeHead(200, { "content-type": deps.registry.contentType }).end(text))
        .catch((e) => {
          deps.log.error({ err: errorText(e) }, "metrics collection failed");
          res.writeHead(500).end();
        });
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
}
