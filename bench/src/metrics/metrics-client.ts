import http from "node:http";
import https from "node:https";
import { resolveKubeConfig } from "@devreg/kube";

/**
 * GET of a /metrics page. Resolves undefined when it is not readable (no RBAC for it on a
 * shared cluster, a component gone): these counters are diagnostics, never a reason to
 * fail the run.
 */
function fetchText(url: URL, opts: https.RequestOptions = {}): Promise<string | undefined> {
  return new Promise((resolve) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.get(url, { ...opts, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString("utf8") : undefined),
      );
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/** kube-apiserver's /metrics with the kubeconfig's credentials. */
export async function apiserverMetrics(kubeconfig: string): Promise<() => Promise<string | undefined>> {
  const { kc } = resolveKubeConfig(kubeconfig);
  const server = kc.getCurrentCluster()?.server;
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return async () => (server ? fetchText(new URL("/metrics", server), opts) : undefined);
}

/** A component's plain-HTTP /metrics, e.g. the gateway's admin port. */
export function httpMetrics(url: string): Promise<string | undefined> {
  return fetchText(new URL(url));
}
