import https from "node:https";
import http from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeError, codeForStatus } from "./errors.ts";
import type { KubeList, WatchEvent } from "./types.ts";

/**
 * A small Kubernetes REST client on node:https with ONE keep-alive agent.
 *
 * Why not client-node's generated APIs on the hot path: client-node 1.x builds a new
 * https.Agent per request, so every call pays a TLS handshake. Measured on this 2-core
 * machine, 32 concurrent create+status-patch pairs: 118/s as shipped vs 408/s with a
 * reused keep-alive agent. client-node is still used to load kubeconfigs (all auth kinds).
 */
export interface KubeRestOptions {
  /** Max concurrent sockets to the apiserver (also bounds requests in flight). */
  maxSockets?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Re-read credentials from the kubeconfig this often (exec plugins, rotated tokens). */
  authRefreshMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const USER_AGENT = `devreg/0.1.0 (node ${process.version})`;

type TlsOptions = Pick<https.RequestOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername"> & {
  headers?: Record<string, string>;
};

export class KubeRest {
  readonly server: URL;
  private readonly agent: http.Agent;
  private readonly watchAgent: http.Agent;
  private tls: TlsOptions;
  private authLoadedAt = Date.now();
  private readonly timeoutMs: number;
  private readonly authRefreshMs: number;
  private readonly answeredListeners = new Set<() => void>();
  private lastAnsweredNotice = 0;

  private constructor(
    server: string,
    tls: TlsOptions,
    private readonly kc: KubeConfig | undefined,
    opts: KubeRestOptions,
  ) {
    this.server = new URL(server);
    this.tls = tls;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.authRefreshMs = opts.authRefreshMs ?? 60_000;
    const isHttps = this.server.protocol === "https:";
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 64, maxFreeSockets: opts.maxSockets ?? 64 };
    this.agent = isHttps ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.watchAgent = isHttps ? new https.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: false });
  }

  static async fromKubeConfig(kc: KubeConfig, opts: KubeRestOptions = {}): Promise<KubeRest> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeError("E_KUBECONFIG", "kubeconfig has no current cluster");
    const tls = await loadTls(kc);
    return new KubeRest(cluster.server, tls, kc, opts);
  }

  get namespaceDefault(): string | undefined {
    return this.kc?.getContextObject(this.kc.getCurrentContext())?.namespace;
  }

  /**
   * Called when the server answers a request with 2xx (at most every 250 ms): informers that
   * are backing off after an outage retry at once instead of sleeping out their backoff.
   * Returns the unsubscribe.
   */
  onAnswered(listener: () => void): () => void {
    this.answeredListeners.add(listener);
    return () => this.answeredListeners.delete(listener);
  }

  private answered(): void {
    const now = Date.now();
    if (this.answeredListeners.size === 0 || now - this.lastAnsweredNotice < 250) return;
    this.lastAnsweredNotice = now;
    for (const l of this.answeredListeners) l();
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  private async ensureFreshAuth(): Promise<void> {
    if (!this.kc || Date.now() - this.authLoadedAt < this.authRefreshMs) return;
    this.authLoadedAt = Date.now();
    this.tls = await loadTls(this.kc);
  }

  private url(path: string, query?: RequestOptions["query"]): URL {
    const u = new URL(path, this.server);
    if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  private baseOptions(method: string, u: URL, agent: http.Agent): https.RequestOptions {
    return {
      method,
      protocol: u.protocol,
      hostname: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      agent,
      ca: this.tls.ca,
      cert: this.tls.cert,
      key: this.tls.key,
      rejectUnauthorized: this.tls.rejectUnauthorized,
      servername: this.tls.servername,
      // The User-Agent names the field manager when a caller sets none (audit trail).
      // A fresh object per request: request() adds content headers to it.
      headers: { ...this.tls.headers, accept: "application/json", "user-agent": USER_AGENT },
    };
  }

  /** One request; resolves with the parsed JSON body, or rejects with a KubeError. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    await this.ensureFreshAuth();
    const u = this.url(path, opts.query);
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const ro = this.baseOptions(method, u, this.agent);
    if (payload) {
      (ro.headers as Record<string, string | number>)["content-type"] = opts.contentType ?? "application/json";
      (ro.headers as Record<string, string | number>)["content-length"] = payload.length;
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const req = (u.protocol === "https:" ? https : http).request(ro, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new KubeError("E_KUBE_UNAVAILABLE", `${method} ${u.pathname}: ${e.message}`)));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          if (status >= 200 && status < 300) {
            this.answered();
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch {
              reject(new KubeError("E_KUBE_HTTP", `${method} ${u.pathname}: response is not JSON`, status));
            }
            return;
          }
          reject(statusError(method, u.pathname, status, text, res.headers["retry-after"]));
        });
      });
      req.setTimeout(timeoutMs, () =>
        req.destroy(new KubeError("E_KUBE_TIMEOUT", `${method} ${u.pathname}: no answer in ${timeoutMs} ms`)),
      );
      req.on("error", (e) =>
        reject(e instanceof KubeError ? e : new KubeError("E_KUBE_UNAVAILABLE", `${method} ${u.pathname}: ${e.message}`)),
      );
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => req.destroy(new KubeError("E_KUBE_TIMEOUT", "aborted"));
        if (signal.aborted) onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        // Informers pass one long-lived signal to every request: unhooked, each call leaked a listener.
        req.once("close", () => signal.removeEventListener("abort", onAbort));
      }
      req.end(payload);
    });
  }

  /**
   * Lists a whole collection in pages of `pageSize` (the apiserver's limit/continue), so no
   * single response has to hold every object. Returns the items and the list's resourceVersion.
   */
  async listAll<T>(
    path: string,
    query: RequestOptions["query"] = {},
    opts: { pageSize?: number; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<{ items: T[]; resourceVersion?: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.request<KubeList<T>>("GET", path, {
        query: { ...query, limit: opts.pageSize ?? 500, continue: cont },
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { items, resourceVersion };
  }

  /**
   * Streams a watch. Calls `onEvent` per event and resolves when the server ends the stream
   * (normal after timeoutSeconds). Rejects with a KubeError on HTTP errors; an ERROR event
   * carrying a 410 Status is surfaced as E_KUBE_GONE so informers re-list.
   */
  async watch<T>(
    path: string,
    query: RequestOptions["query"],
    onEvent: (ev: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.ensureFreshAuth();
    const u = this.url(path, { ...query, watch: 1, allowWatchBookmarks: true });
    const ro = this.baseOptions("GET", u, this.watchAgent);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      const req = (u.protocol === "https:" ? https : http).request(ro, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            done(statusError("WATCH", u.pathname, status, Buffer.concat(chunks).toString(), res.headers["retry-after"])),
          );
          return;
        }
        this.answered();
        // Events are newline-delimited JSON. Bytes are kept as Buffers and a line is decoded
        // only once complete: no string concatenation and re-slicing of every chunk (each
        // event is a whole object of several KiB, and every enrollment brings two).
        let pending: Buffer | undefined;
        res.on("data", (chunk: Buffer) => {
          const data = pending ? Buffer.concat([pending, chunk]) : chunk;
          pending = undefined;
          let start = 0;
          for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
            const lineEnd = nl;
            const from = start;
            start = nl + 1;
            if (lineEnd === from) continue;
            let ev: WatchEvent<T>;
            try {
              ev = JSON.parse(data.toString("utf8", from, lineEnd)) as WatchEvent<T>;
            } catch {
              if (data.toString("utf8", from, lineEnd).trim() === "") continue;
              req.destroy();
              done(new KubeError("E_KUBE_HTTP", `watch ${u.pathname}: malformed event line`));
              return;
            }
            if (ev.type === "ERROR") {
              const st = ev.object as { code?: number; message?: string; reason?: string };
              req.destroy();
              done(
                new KubeError(codeForStatus(st.code ?? 500, st.reason), `watch: ${st.message ?? "error"}`, st.code),
              );
              return;
            }
            try {
              onEvent(ev);
            } catch (e) {
              req.destroy();
              done(e as Error);
              return;
            }
          }
          if (start < data.length) pending = start === 0 ? data : data.subarray(start);
        });
        res.on("end", () => done());
        res.on("error", (e) => done(new KubeError("E_KUBE_UNAVAILABLE", `watch ${u.pathname}: ${e.message}`)));
        res.on("close", () => done());
      });
      req.on("error", (e) => done(new KubeError("E_KUBE_UNAVAILABLE", `watch ${u.pathname}: ${e.message}`)));
      if (signal) {
        const abort = () => {
          req.destroy();
          done();
        };
        if (signal.aborted) abort();
        else {
          signal.addEventListener("abort", abort, { once: true });
          req.once("close", () => signal.removeEventListener("abort", abort));
        }
      }
      req.end();
    });
  }
}

async function loadTls(kc: KubeConfig): Promise<TlsOptions> {
  const o: https.RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(o);
  } catch (e) {
    throw new KubeError("E_KUBECONFIG", `cannot load credentials from kubeconfig: ${(e as Error).message}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((o.headers ?? {}) as Record<string, unknown>)) {
    if (typeof v === "string") headers[k] = v;
  }
  return { ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername, headers };
}

function statusError(
  method: string,
  path: string,
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
): KubeError {
  let reason: string | undefined;
  let message = body.slice(0, 300);
  try {
    const s = JSON.parse(body) as { reason?: string; message?: string };
    reason = s.reason;
    if (s.message) message = s.message;
  } catch {
    // not a Status object
  }
  const ra = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return new KubeError(
    codeForStatus(status, reason),
    `${method} ${path}: ${status} ${message}`,
    status,
    Number.isFinite(ra) && ra > 0 ? ra : undefined,
  );
}
