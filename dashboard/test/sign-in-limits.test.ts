import http from "node:http";
import net from "node:net";
import { applyLocalDeploy, resolveKubeConfig, serviceAccountToken } from "@devreg/kube";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Cleanup,
  type TestEnv,
  apiserverMetric,
  apiserverRequests,
  testEnv,
} from "../../gateway-mqtt/test/helpers.ts";
import { type CredentialSource, type DashboardHandle, ensureBuilt, startDashboard } from "../src/index.ts";

interface Answer {
  status: number;
  retryAfter: string | undefined;
  cookie: string;
  body: { code?: string; message?: string; user?: string; csrfToken?: string };
}

/** One request on a fresh connection from the loopback address `from` (127.0.0.x: another client). */
function send(
  url: string,
  from: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = init.json === undefined ? undefined : JSON.stringify(init.json);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: init.method ?? "GET",
        localAddress: from,
        agent: false,
        headers: {
          ...(body ? { "content-type": "application/json", origin: new URL(url).origin } : {}),
          ...init.headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          let parsed: Answer["body"] = {};
          try {
            parsed = JSON.parse(text) as Answer["body"];
          } catch {
            // a redirect or an asset: no JSON
          }
          const retry = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(retry) ? retry[0] : retry,
            cookie: (res.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "",
            body: parsed,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A TCP relay in front of the API server that holds each new connection `holdMs` before
 * relaying it, and counts connections: a bearer sign-in check is one new TLS connection.
 */
async function holdingRelay(target: URL, holdMs: number) {
  const stats = { open: 0, peak: 0, total: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    stats.total++;
    stats.peak = Math.max(stats.peak, ++stats.open);
    client.on("close", () => {
      stats.open--;
      sockets.delete(client);
    });
    client.on("error", () => client.destroy());
    setTimeout(() => {
      if (client.destroyed) return;
      const up = net.connect(Number(target.port), target.hostname);
      sockets.add(up);
      up.on("close", () => {
        sockets.delete(up);
        client.destroy();
      });
      up.on("error", () => up.destroy());
      client.on("close", () => up.destroy());
      client.pipe(up);
      up.pipe(client);
    }, holdMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sign-in attempts are bounded per client address, dashboard-wide and in flight, before any
 * client or apiserver request exists: counted at the real API server, while an honest user on
 * another address signs in and works.
 */
describe("dashboard sign-in limits", () => {
  const cleanup = new Cleanup();
  let env: TestEnv;
  /** The API server's URL. */
  let apiserver: string;
  let bearer: (server?: string) => CredentialSource;
  let honestToken: string;

  /** The API server's failed authentications (a bad bearer token reaches no resource handler). */
  const failedAuthentications = () =>
    apiserverMetric(env.kubeconfig, "authentication_attempts", { result: "failure" }) +
    apiserverMetric(env.kubeconfig, "authentication_attempts", { result: "error" });

  beforeAll(async () => {
    await ensureBuilt();
    env = await testEnv("dash-signin");
    await applyLocalDeploy(env.rest, env.ns);
    await env.rest.request("POST", `/api/v1/namespaces/${env.ns}/serviceaccounts`, {
      body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "honest-viewer" } },
    });
    await env.rest.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${env.ns}/rolebindings`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "honest-viewer" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "devreg-dashboard-viewer" },
        subjects: [{ kind: "ServiceAccount", name: "honest-viewer", namespace: env.ns }],
      },
    });
    honestToken = await serviceAccountToken(env.rest, env.ns, "honest-viewer");
    const cluster = resolveKubeConfig(env.kubeconfig).kc.getCurrentCluster();
    apiserver = cluster?.server as string;
    bearer = (server = apiserver) => ({
      kind: "bearer",
      server,
      caFile: cluster?.caFile,
      caData: cluster?.caData,
    });
  });

  afterAll(async () => {
    await cleanup.run();
    env?.rest.close();
  });

  it("bearer: one address's bad tokens stop reaching the API server after its burst (429 + Retry-After); an honest user on another address signs in and works", async () => {
    const logLines: string[] = [];
    const logger = pino({ level: "info" }, { write: (l: string) => logLines.push(l) });
    const dash: DashboardHandle = await startDashboard({ credential: bearer(), namespace: env.ns, logger });
    cleanup.add(() => dash.close());
    const login = `${dash.url}api/login`;
    const attacker = "127.0.0.2";
    const honest = "127.0.0.3";

    const failed0 = failedAuthentications();
    const burst = [];
    for (let i = 0; i < 10; i++)
      burst.push(await send(login, attacker, { method: "POST", json: { token: `bad-token-${i}` } }));
    expect(burst.map((a) => a.status)).toEqual(Array(10).fill(401));
    const failed1 = failedAuthentications();
    expect(failed1 - failed0).toBeGreaterThanOrEqual(10); // each reached the API server

    const refused = [];
    for (let i = 0; i < 30; i++)
      refused.push(await send(login, attacker, { method: "POST", json: { token: `bad-token-x${i}` } }));
    expect(new Set(refused.map((a) => a.status))).toEqual(new Set([429]));
    expect(new Set(refused.map((a) => a.body.code))).toEqual(new Set(["E_RATE_LIMITED"]));
    for (const a of refused) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(6);
    }
    expect(refused[0]?.body.message).toMatch(
      /^too many sign-in attempts from your address; try again in [1-6] s$/,
    );
    // Even a good token from that address waits: the bound is on attempts, not on bad tokens.
    expect((await send(login, attacker, { method: "POST", json: { token: honestToken } })).status).toBe(429);
    expect(failedAuthentications()).toBe(failed1); // none of the 31 reached the API server

    const reviews0 = apiserverRequests(env.kubeconfig, { resource: "selfsubjectreviews", code: "201" });
    const me = await send(login, honest, { method: "POST", json: { token: honestToken } });
    expect(me.status).toBe(200);
    expect(me.body.user).toBe(`system:serviceaccount:${env.ns}:honest-viewer`);
    expect(apiserverRequests(env.kubeconfig, { resource: "selfsubjectreviews", code: "201" })).toBe(
      reviews0 + 1,
    );
    const session = await send(`${dash.url}api/session`, honest, { headers: { cookie: me.cookie } });
    expect([session.status, session.body.user]).toEqual([200, me.body.user]);
    // A request made with the honest user's own token: the API server answers, RBAC allows the get.
    const detail = await send(`${dash.url}api/devices/no-such-device`, honest, {
      headers: { cookie: me.cookie },
    });
    expect([detail.status, detail.body.code]).toEqual([404, "E_KUBE_NOT_FOUND"]);

    const health = await (await fetch(`${dash.url}healthz`)).text();
    expect(health).toContain("sessions=1 ");
    expect(health).toContain("signins_in_flight=0 signins_refused=31");
    // 31 refusals, a few log lines (5 per reason, then one per 10 s), with no token in them.
    const refusals = logLines
      .filter((l) => l.includes('"sign-in refused"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(6);
    expect(refusals[0]).toMatchObject({ remote: "127.0.0.2", reason: "address_rate", refused: 1 });
    expect(logLines.join("")).not.toContain("bad-token");
  });

  it("bearer: at most 4 checks in flight; the rest are answered busy at once, never queued", async () => {
    const relay = await holdingRelay(new URL(apiserver), 1_500);
    cleanup.add(() => relay.close());
    const dash = await startDashboard({
      credential: bearer(relay.url),
      namespace: env.ns,
      logger: pino({ level: "silent" }),
    });
    cleanup.add(() => dash.close());
    const login = `${dash.url}api/login`;

    const failed0 = failedAuthentications();
    const t0 = Date.now();
    // 20 addresses, so no address's own bucket is what stops them.
    const wave = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const a = await send(login, `127.0.0.${10 + i}`, {
          method: "POST",
          json: { token: `bad-token-${i}` },
        });
        return { ...a, ms: Date.now() - t0 };
      }),
    );
    const checked = wave.filter((a) => a.status === 401);
    const busy = wave.filter((a) => a.status === 429);
    expect(checked.length).toBe(4);
    expect(busy.length).toBe(16);
    for (const a of busy) {
      expect([a.body.code, a.retryAfter]).toEqual(["E_BUSY", "1"]);
      expect(a.body.message).toBe("4 sign-ins are being checked; try again in 1 s");
      expect(a.ms).toBeLessThan(1_500); // answered before any check could finish: not queued
    }
    for (const a of checked) expect(a.ms).toBeGreaterThanOrEqual(1_500);
    expect(relay.stats.peak).toBeLessThanOrEqual(4);
    expect(relay.stats.total).toBe(4);
    expect(failedAuthentications() - failed0).toBeGreaterThanOrEqual(4);

    // The slots are free again: the honest user signs in through the same relay.
    const me = await send(login, "127.0.0.9", { method: "POST", json: { token: honestToken } });
    expect(me.status).toBe(200);
    expect(await (await fetch(`${dash.url}healthz`)).text()).toContain(
      "signins_in_flight=0 signins_refused=16",
    );
  });

  it("link: guesses at the start-up token are bounded per address; the real link still works from another", async () => {
    const dash = await startDashboard({
      credential: { kind: "kubeconfig", kc: resolveKubeConfig(env.kubeconfig).kc },
      namespace: env.ns,
      logger: pino({ level: "silent" }),
    });
    cleanup.add(() => dash.close());
    const guesses = [];
    for (let i = 0; i < 12; i++) guesses.push(await send(`${dash.url}login?token=guess-${i}`, "127.0.0.4"));
    expect(guesses.map((a) => a.status)).toEqual([...Array(10).fill(403), 429, 429]);
    expect(guesses[10]?.body.code).toBe("E_RATE_LIMITED");
    expect(Number(guesses[10]?.retryAfter)).toBeGreaterThanOrEqual(1);
    const real = await send(dash.loginUrl, "127.0.0.5");
    expect(real.status).toBe(303);
    expect(real.cookie).toMatch(/^devreg_dashboard=/);
  });
});
