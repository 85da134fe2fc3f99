import { randomBytes, timingSafeEqual } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeRest, SELF_SUBJECT_REVIEWS_PATH, isKubeError } from "@devreg/kube";
import { DashboardError } from "./errors.ts";

/**
 * Whose credential a signed-in user's requests carry. The dashboard never acts with a
 * credential of its own: every Kubernetes request is the user's, so RBAC decides.
 * - kubeconfig: `devreg dashboard` on a workstation; the kubeconfig it was started with is
 *   the user's own. Sign-in is the one-time token printed in the URL (as Jupyter does).
 * - bearer: in-cluster; the user pastes a bearer token (e.g. `kubectl create token`, or an
 *   OIDC id-token) into the sign-in form; it is checked with a SelfSubjectReview and kept
 *   in server memory for the session only, never sent back to the browser.
 */
export type CredentialSource =
  | { kind: "kubeconfig"; kc: KubeConfig }
  | { kind: "bearer"; server: string; caFile?: string; caData?: string; insecureSkipTlsVerify?: boolean };

export interface Session {
  id: string;
  csrfToken: string;
  user: string;
  rest: KubeRest;
  lastSeen: number;
}

export const SESSION_COOKIE = "devreg_dashboard";

const token = () => randomBytes(32).toString("base64url");

/** Equal-time comparison of two secrets (any lengths). */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie in a Cookie header. Pure. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Who a credential authenticates as (SelfSubjectReview, authentication.k8s.io/v1). */
async function whoAmI(rest: KubeRest): Promise<string> {
  const review = await rest.request<{ status?: { userInfo?: { username?: string } } }>(
    "POST",
    SELF_SUBJECT_REVIEWS_PATH,
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  return review.status?.userInfo?.username ?? "unknown";
}

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly loginTokens = new Set<string>();
  private shared: KubeRest | undefined;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly source: CredentialSource,
    private readonly idleMs = 12 * 3_600_000,
    /** Each bearer session holds a client of its own: a bound, whoever signs in. */
    private readonly maxSessions = 64,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** A fresh one-time sign-in token (kubeconfig mode). */
  issueLoginToken(): string {
    if (this.source.kind !== "kubeconfig") throw new DashboardError("E_CONFIG", "login tokens are for kubeconfig mode");
    const t = token();
    this.loginTokens.add(t);
    return t;
  }

  /** Spends a one-time token; a token works once (a leaked URL after sign-in is worthless). */
  async loginWithToken(presented: string): Promise<Session> {
    if (this.source.kind !== "kubeconfig") throw new DashboardError("E_LOGIN_TOKEN", "sign in with a bearer token");
    const hit = [...this.loginTokens].find((t) => sameSecret(presented, t));
    if (!hit) throw new DashboardError("E_LOGIN_TOKEN", "this sign-in link is invalid or was already used; restart `devreg dashboard` for a new one");
    this.loginTokens.delete(hit);
    this.shared ??= await KubeRest.fromKubeConfig(this.source.kc, { maxSockets: 8, timeoutMs: 15_000 });
    let user = "kubeconfig user";
    try {
      user = await whoAmI(this.shared);
    } catch {
      // an older apiserver without SelfSubjectReview: the name is cosmetic
    }
    return this.add(user, this.shared);
  }

  /** Signs in with a bearer token the API server accepts (bearer mode). */
  async loginWithBearer(bearer: string): Promise<Session> {
    const src = this.source;
    if (src.kind !== "bearer") throw new DashboardError("E_BAD_REQUEST", "this dashboard signs in with its start-up link");
    if (!/^[\x21-\x7e]{1,8192}$/.test(bearer)) throw new DashboardError("E_BAD_REQUEST", "a bearer token is one line of printable text");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: src.server, caFile: src.caFile, caData: src.caData, skipTLSVerify: src.insecureSkipTlsVerify ?? false }],
      users: [{ name: "u", token: bearer }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const rest = await KubeRest.fromKubeConfig(kc, { maxSockets: 4, timeoutMs: 15_000, authRefreshMs: Number.MAX_SAFE_INTEGER });
    try {
      return this.add(await whoAmI(rest), rest);
    } catch (e) {
      rest.close();
      if (isKubeError(e, "E_KUBE_UNAUTHORIZED")) throw new DashboardError("E_UNAUTHENTICATED", "the API server did not accept this token");
      throw e;
    }
  }

  /** The session a request's cookie names, if live. */
  fromCookie(cookieHeader: string | undefined): Session | undefined {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    const s = id === undefined ? undefined : this.sessions.get(id);
    if (!s) return undefined;
    if (Date.now() - s.lastSeen > this.idleMs) {
      this.end(s.id);
      return undefined;
    }
    s.lastSeen = Date.now();
    return s;
  }

  /** [CSRF] A state-changing request must echo the session's CSRF token in a header. */
  checkCsrf(s: Session, header: string | undefined): void {
    if (!sameSecret(header, s.csrfToken)) throw new DashboardError("E_CSRF", "missing or wrong CSRF token");
  }

  end(id: string): void {
    const s = this.sessions.get(id);
    this.sessions.delete(id);
    if (s && s.rest !== this.shared) s.rest.close();
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.end(id);
    this.shared?.close();
  }

  get size(): number {
    return this.sessions.size;
  }

  private add(user: string, rest: KubeRest): Session {
    if (this.sessions.size >= this.maxSessions) this.sweep();
    if (this.sessions.size >= this.maxSessions) {
      if (rest !== this.shared) rest.close();
      throw new DashboardError("E_LIMIT", `${this.maxSessions} sessions are signed in; sign one out or wait for one to expire`);
    }
    const s: Session = { id: token(), csrfToken: token(), user, rest, lastSeen: Date.now() };
    this.sessions.set(s.id, s);
    return s;
  }

  private sweep(): void {
    for (const s of [...this.sessions.values()]) if (Date.now() - s.lastSeen > this.idleMs) this.end(s.id);
  }
}
