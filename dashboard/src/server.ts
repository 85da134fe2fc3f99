import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeError } from "@devreg/kube";
import { type BucketSpec, LogGate, type Logger, createLogger } from "@devreg/runtime";
import {
  changePairing,
  deleteDevice,
  deviceDetail,
  explainForbidden,
  isDeviceAction,
  parsePairingChange,
  setDeviceSpec,
} from "./actions.ts";
import { type Asset, loadAssets } from "./assets.ts";
import { DashboardError } from "./errors.ts";
import { MetricsSampler, type MetricsTargets } from "./metrics-sampler.ts";
import { type CredentialSource, SESSION_COOKIE, type Session, Sessions } from "./sessions.ts";
import { DEFAULT_SIGN_IN_LIMITS, SignInAdmission } from "./sign-in-admission.ts";
import { CSRF_HEADER, type SessionInfo, type StreamMessage } from "./shared/stream.ts";
import { LiveStream } from "./streams.ts";

export interface DashboardOptions {
  credential: CredentialSource;
  namespace: string;
  /** Default 127.0.0.1: the dashboard is for this machine unless told otherwise. */
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  metrics?: MetricsTargets;
  metricsIntervalMs?: number;
  /**
   * Origin users reach the dashboard at when it is not on loopback (e.g. behind an Ingress:
   * https://devreg.example.com). Requests for any other host are refused (DNS rebinding).
   */
  publicOrigin?: string;
  /** Set Secure on the session cookie (when publicOrigin is https). */
  secureCookie?: boolean;
  assetsDir?: string;
  logger?: Logger;
  /** Level of the dashboard's own logger when no `logger` is given: LOG_LEVEL, read by the process's entry. */
  logLevel?: string;
  /**
   * Bounds on what signed-in users can make the dashboard hold. A live stream is one
   * apiserver watch plus a cached copy of every registration (a few MB at 10,000 devices).
   * Defaults: 64 sessions, 16 live streams in all, 4 per session.
   * And on what strangers can make it do by trying to sign in (each bearer attempt is a new
   * client and a SelfSubjectReview at the API server): attempts per client address, failed
   * and successful alike (default burst 10, then 1 per 6 s), on the whole dashboard (burst 30,
   * then 1/s), and being checked at once (4; one more is answered busy at once). README.md.
   */
  limits?: {
    sessions?: number;
    streams?: number;
    streamsPerSession?: number;
    signInsPerAddress?: BucketSpec;
    signIns?: BucketSpec;
    signInsInFlight?: number;
  };
}

export interface DashboardHandle {
  port: number;
  /** http://host:port/ */
  url: string;
  /** kubeconfig mode: the one-time sign-in URL to print; bearer mode: the plain URL. */
  loginUrl: string;
  sessions: Sessions;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** CSP: only this origin's scripts, styles and connections; no inline script, no framing. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** Is the request's Host one the dashboard serves (loopback names, or the public origin's host)? Pure. */
export function hostAllowed(host: string | undefined, publicOrigin: string | undefined): boolean {
  if (!host) return false;
  if (publicOrigin && new URL(publicOrigin).host === host) return true;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0];
  return LOOPBACK.has(name ?? "");
}

/**
 * [CSRF] A state-changing request must come from the dashboard's own page: its Origin is
 * this request's own origin (or the configured public origin). Browsers always send Origin
 * on POST, PATCH and DELETE. Pure.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, publicOrigin: string | undefined): boolean {
  if (!origin || !host) return false;
  if (publicOrigin && origin === new URL(publicOrigin).origin) return true;
  return origin === `http://${host}`;
}

function httpStatusOf(e: unknown): number {
  if (e instanceof DashboardError) {
    return (
      { E_UNAUTHENTICATED: 401, E_LOGIN_TOKEN: 403, E_CSRF: 403, E_BAD_REQUEST: 400, E_NOT_FOUND: 404, E_LIMIT: 429, E_RATE_LIMITED: 429, E_BUSY: 429 } as Record<string, number>
    )[e.code] ?? 500;
  }
  if (e instanceof KubeError) return e.status && e.status >= 400 && e.status < 600 ? e.status : 502;
  return 500;
}

async function readJson(req: http.IncomingMessage, limit = 16_384): Promise<unknown> {
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
    throw new DashboardError("E_BAD_REQUEST", "send application/json");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new DashboardError("E_BAD_REQUEST", "body too large");
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new DashboardError("E_BAD_REQUEST", "body is not JSON");
  }
}

/** Starts the dashboard's HTTP server: static UI, sign-in, the live stream and the actions. */
export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const log = opts.logger ?? createLogger({ component: "dashboard", level: opts.logLevel });
  const assets = loadAssets(opts.assetsDir);
  const sessions = new Sessions(opts.credential, undefined, opts.limits?.sessions ?? 64);
  const maxStreams = opts.limits?.streams ?? 16;
  const maxStreamsPerSession = opts.limits?.streamsPerSession ?? 4;
  const streamsOf = new Map<string, number>();
  const signIns = new SignInAdmission({
    ...DEFAULT_SIGN_IN_LIMITS,
    perAddress: opts.limits?.signInsPerAddress ?? DEFAULT_SIGN_IN_LIMITS.perAddress,
    global: opts.limits?.signIns ?? DEFAULT_SIGN_IN_LIMITS.global,
    inFlight: opts.limits?.signInsInFlight ?? DEFAULT_SIGN_IN_LIMITS.inFlight,
  });
  // A flood of refusals writes a few lines per reason, then one with the count it skipped.
  const refusalLog = new LogGate(log, { burst: 5, ratePerSecond: 0.1 });
  const sampler = new MetricsSampler(opts.metrics ?? {}, opts.metricsIntervalMs);
  const streams = new Set<{ write: (m: StreamMessage) => void }>();
  sampler.on("point", (p) => {
    for (const s of streams) s.write({ type: "metrics", points: [p] });
  });
  const ns = opts.namespace;
  const live = new Set<LiveStream>();

  const cookie = (value: string, maxAge?: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${opts.secureCookie ? "; Secure" : ""}${maxAge !== undefined ? `; Max-Age=${maxAge}` : ""}`;

  const json = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json", "cache-control": "no-store", ...extra });
    res.end(JSON.stringify(body));
  };

  const serveAsset = (res: http.ServerResponse, a: Asset) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": a.type,
      "cache-control": a.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    res.end(a.body);
  };

  /**
   * One sign-in attempt, admitted before its body is read and before any client or apiserver
   * request. The address is the socket's: the dashboard knows no trusted proxies, so behind an
   * Ingress or a port-forward everyone shares the proxy's address (and its bucket). The
   * admission counts its limit key (an IPv6 /64 as one address); the log keeps the raw address.
   */
  const signingIn = async (req: http.IncomingMessage, attempt: () => Promise<Session>): Promise<Session> => {
    const remote = req.socket.remoteAddress ?? "unknown";
    const d = signIns.attempt(remote);
    if (d.kind === "refuse") {
      refusalLog.line(`signin_refused:${d.reason}`, "warn", { remote, reason: d.reason, refused: signIns.refusedTotal }, "sign-in refused");
      throw new DashboardError(d.reason === "busy" ? "E_BUSY" : "E_RATE_LIMITED", d.message, d.retryAfterSeconds);
    }
    try {
      return await attempt();
    } finally {
      d.release();
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // Probes (the kubelet calls the pod IP): no session, no data.
    if (req.url === "/healthz" || req.url === "/readyz") {
      // What the bounds hold now (no session data): sessions and live streams against their caps.
      res
        .writeHead(200, { "content-type": "text/plain" })
        .end(
          `ok sessions=${sessions.size} streams=${live.size} max_streams=${maxStreams} signins_in_flight=${signIns.inFlight} signins_refused=${signIns.refusedTotal}\n`,
        );
      return;
    }
    const host = req.headers.host;
    if (!hostAllowed(host, opts.publicOrigin)) {
      res.writeHead(421, { "content-type": "text/plain" }).end("unknown host\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (method === "GET" && path === "/login") {
      const presented = url.searchParams.get("token");
      if (presented === null) {
        serveAsset(res, assets.get("/index.html") as Asset);
        return;
      }
      const s = await signingIn(req, () => sessions.loginWithToken(presented));
      log.info({ user: s.user }, "signed in with the start-up link");
      res.writeHead(303, { ...SECURITY_HEADERS, location: "/", "set-cookie": cookie(s.id), "cache-control": "no-store" });
      res.end();
      return;
    }
    if (!path.startsWith("/api/")) {
      const a = assets.get(path === "/" ? "/index.html" : path);
      if (!a || (method !== "GET" && method !== "HEAD")) {
        res.writeHead(404, { ...SECURITY_HEADERS, "content-type": "text/plain" }).end("not found\n");
        return;
      }
      serveAsset(res, a);
      return;
    }

    const mutating = method !== "GET" && method !== "HEAD";
    if (mutating && !originAllowed(req.headers.origin, host, opts.publicOrigin)) {
      throw new DashboardError("E_CSRF", "cross-origin request refused");
    }
    if (method === "POST" && path === "/api/login") {
      const s = await signingIn(req, async () => {
        const body = (await readJson(req)) as { token?: unknown };
        if (typeof body?.token !== "string") throw new DashboardError("E_BAD_REQUEST", "token must be text");
        return sessions.loginWithBearer(body.token.trim());
      });
      log.info({ user: s.user }, "signed in with a bearer token");
      json(res, 200, { user: s.user }, { "set-cookie": cookie(s.id) });
      return;
    }

    const session = sessions.fromCookie(req.headers.cookie);
    if (!session) {
      json(res, 401, {
        code: "E_UNAUTHENTICATED",
        message: "not signed in",
        login: opts.credential.kind === "bearer" ? "bearer" : "link",
      });
      return;
    }
    if (mutating) sessions.checkCsrf(session, req.headers[CSRF_HEADER] as string | undefined);
    await route(req, res, session, method, path);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, s: Session, method: string, path: string) => {
    if (method === "GET" && path === "/api/session") {
      const info: SessionInfo = { user: s.user, namespace: ns, csrfToken: s.csrfToken, credential: opts.credential.kind };
      json(res, 200, info);
      return;
    }
    if (method === "POST" && path === "/api/logout") {
      sessions.end(s.id);
      json(res, 200, {}, { "set-cookie": cookie("", 0) });
      return;
    }
    if (method === "GET" && path === "/api/stream") {
      openStream(req, res, s);
      return;
    }
    if (method === "POST" && path === "/api/pairing") {
      const change = parsePairingChange(await readJson(req));
      const view = await changePairing(s.rest, ns, change).catch((e: unknown) => {
        throw explainForbidden(e, s.user, "pairing", "the pairing window");
      });
      log.info({ user: s.user, pairing: change }, "pairing change");
      json(res, 200, view);
      return;
    }
    const m = /^\/api\/devices\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1] as string);
      const verb = m[2];
      if (method === "GET" && !verb) return json(res, 200, await deviceDetail(s.rest, ns, name));
      if (method === "POST" && verb && isDeviceAction(verb)) {
        const r = await setDeviceSpec(s.rest, ns, name, verb).catch((e: unknown) => {
          throw explainForbidden(e, s.user, verb, name);
        });
        log.info({ user: s.user, device: name, verb }, "device action");
        return json(res, 200, { name: r.metadata.name, deactivate: r.spec.deactivate ?? false, approval: r.spec.approval });
      }
      if (method === "DELETE" && !verb) {
        await deleteDevice(s.rest, ns, name).catch((e: unknown) => {
          throw explainForbidden(e, s.user, "delete", name);
        });
        log.info({ user: s.user, device: name, verb: "delete" }, "device action");
        return json(res, 200, { name });
      }
    }
    throw new DashboardError("E_NOT_FOUND", `no ${method} ${path}`);
  };

  const openStream = (req: http.IncomingMessage, res: http.ServerResponse, s: Session) => {
    const mine = streamsOf.get(s.id) ?? 0;
    if (live.size >= maxStreams || mine >= maxStreamsPerSession) {
      throw new DashboardError(
        "E_LIMIT",
        mine >= maxStreamsPerSession
          ? `this session already has ${mine} live views open; close a tab`
          : `the dashboard serves ${maxStreams} live views at most; try again later`,
      );
    }
    streamsOf.set(s.id, mine + 1);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    const sink = { write: (m: StreamMessage) => res.write(`data: ${JSON.stringify(m)}\n\n`) };
    const stream = new LiveStream({ rest: s.rest, namespace: ns, send: sink.write });
    streams.add(sink);
    live.add(stream);
    sink.write({ type: "metrics", points: sampler.history });
    stream.start();
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => {
      clearInterval(ping);
      streams.delete(sink);
      live.delete(stream);
      const left = (streamsOf.get(s.id) ?? 1) - 1;
      if (left > 0) streamsOf.set(s.id, left);
      else streamsOf.delete(s.id);
      void stream.stop();
    });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = httpStatusOf(e);
      const code = (e as { code?: string }).code ?? "E_INTERNAL";
      if (status >= 500) log.error({ err: (e as Error).message, code }, "request failed");
      if (res.headersSent) {
        res.end();
        return;
      }
      const retryAfter: Record<string, string> =
        e instanceof DashboardError && e.retryAfterSeconds !== undefined ? { "retry-after": String(e.retryAfterSeconds) } : {};
      json(res, status, { code, message: (e as Error).message }, retryAfter);
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new DashboardError("E_LISTEN", `cannot listen on ${host}:${opts.port ?? 0}: ${e.code ?? e.message}`)),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  sampler.start();
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const base = opts.publicOrigin ? `${new URL(opts.publicOrigin).origin}/` : `http://${shownHost}:${port}/`;
  const loginUrl =
    opts.credential.kind === "kubeconfig" ? `${base}login?token=${sessions.issueLoginToken()}` : base;
  log.debug({ port }, "dashboard listening");
  return {
    port,
    url: base,
    loginUrl,
    sessions,
    close: async () => {
      sampler.stop();
      await Promise.all([...live].map((l) => l.stop()));
      live.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sessions.close();
    },
  };
}
