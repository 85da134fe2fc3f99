import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KubeRest,
  Registrations,
  applyLocalDeploy,
  componentKubeconfig,
  resolveKubeConfig,
  serviceAccountToken,
} from "@devreg/kube";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevice, waitFor, waitForPhase } from "../../operator/test/helpers.ts";
import { Cleanup, type TestEnv, startTestOperator, testEnv } from "../../gateway-mqtt/test/helpers.ts";
import { type DashboardHandle, ensureBuilt, startDashboard } from "../src/index.ts";
import { ARTIFACTS, launchBrowser } from "./browser.ts";

/**
 * Bearer sign-in (the in-cluster mode) with real ServiceAccount tokens bound by deploy/rbac:
 * the dashboard forwards each user's own credential, so the API server's RBAC decides, and
 * the dashboard's own ServiceAccount can do nothing at all.
 */
describe("dashboard sign-in with a bearer token: RBAC decides", () => {
  const cleanup = new Cleanup();
  let env: TestEnv;
  let dash: DashboardHandle;
  let origin: string;
  /** Registrations as the gateway's ServiceAccount writes them (deploy/policy lets only it create them). */
  let gatewayRegs: Registrations;

  const bind = (rest: KubeRest, ns: string, sa: string, roles: string[]) =>
    Promise.all(
      roles.map((role) =>
        rest.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
          body: {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: `${sa}-${role}` },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role },
            subjects: [{ kind: "ServiceAccount", name: sa, namespace: ns }],
          },
        }),
      ),
    );

  const signIn = async (token: string) => {
    const res = await fetch(`${origin}/api/login`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const session = res.ok ? ((await (await fetch(`${origin}/api/session`, { headers: { cookie } })).json()) as { user: string; csrfToken: string }) : undefined;
    return { status: res.status, cookie, session };
  };

  const act = (s: { cookie: string; session?: { csrfToken: string } }, path: string) =>
    fetch(`${origin}${path}`, { method: "POST", headers: { origin, cookie: s.cookie, "x-devreg-csrf": s.session?.csrfToken ?? "" } });

  beforeAll(async () => {
    await ensureBuilt();
    env = await testEnv("dash-rbac");
    await applyLocalDeploy(env.rest, env.ns);
    for (const sa of ["alice-admin", "victor-viewer", "paula-patcher"]) {
      await env.rest.request("POST", `/api/v1/namespaces/${env.ns}/serviceaccounts`, { body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } } });
    }
    await bind(env.rest, env.ns, "alice-admin", ["devreg-admin", "devreg-dashboard-viewer"]);
    await bind(env.rest, env.ns, "victor-viewer", ["devreg-dashboard-viewer"]);
    // RBAC lets her patch registrations, but without the custom verb `approve` the admission policy refuses.
    await env.rest.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${env.ns}/roles`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "registration-patcher" },
        rules: [{ apiGroups: ["devices.example.com"], resources: ["deviceregistrations"], verbs: ["get", "list", "watch", "patch"] }],
      },
    });
    await bind(env.rest, env.ns, "paula-patcher", ["registration-patcher"]);
    const dir = mkdtempSync(join(tmpdir(), "devreg-dash-rbac-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const gatewayKubeconfig = await componentKubeconfig(env.rest, resolveKubeConfig(env.kubeconfig).kc, env.ns, "gateway", dir);
    const gatewayRest = await KubeRest.fromKubeConfig(resolveKubeConfig(gatewayKubeconfig).kc);
    cleanup.add(() => gatewayRest.close());
    gatewayRegs = new Registrations(gatewayRest, env.ns);
    await startTestOperator(env, cleanup, "op-dash-rbac");
    const cluster = resolveKubeConfig(env.kubeconfig).kc.getCurrentCluster();
    dash = await startDashboard({
      credential: { kind: "bearer", server: cluster?.server as string, caFile: cluster?.caFile, caData: cluster?.caData },
      namespace: env.ns,
      logger: pino({ level: "silent" }),
    });
    cleanup.add(() => dash.close());
    origin = dash.url.replace(/\/$/, "");
  });

  afterAll(async () => {
    await cleanup.run();
    env?.rest.close();
  });

  it("bounds what signed-in users can make it hold: sessions, live streams in all and per session (429), counted on /healthz", async () => {
    const cluster = resolveKubeConfig(env.kubeconfig).kc.getCurrentCluster();
    const small = await startDashboard({
      credential: { kind: "bearer", server: cluster?.server as string, caFile: cluster?.caFile, caData: cluster?.caData },
      namespace: env.ns,
      logger: pino({ level: "silent" }),
      limits: { sessions: 2, streams: 2, streamsPerSession: 1 },
    });
    const o = small.url.replace(/\/$/, "");
    const aborts: AbortController[] = [];
    try {
      const token = await serviceAccountToken(env.rest, env.ns, "victor-viewer");
      const login = () =>
        fetch(`${o}/api/login`, { method: "POST", headers: { origin: o, "content-type": "application/json" }, body: JSON.stringify({ token }) });
      const a = await login();
      const b = await login();
      expect([a.status, b.status]).toEqual([200, 200]);
      const third = await login();
      expect(third.status).toBe(429);
      expect(await third.text()).toContain("2 sessions are signed in");
      const cookieOf = (r: Response) => (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const stream = async (cookie: string) => {
        const ac = new AbortController();
        aborts.push(ac);
        const r = await fetch(`${o}/api/stream`, { headers: { cookie }, signal: ac.signal });
        if (r.status !== 200) await r.text();
        return { status: r.status, ac };
      };
      const first = await stream(cookieOf(a));
      expect(first.status).toBe(200);
      expect((await stream(cookieOf(a))).status).toBe(429); // per session
      expect((await stream(cookieOf(b))).status).toBe(200);
      const health = await (await fetch(`${o}/healthz`)).text();
      expect(health).toContain("sessions=2 streams=2");
      // A closed view frees its slot.
      first.ac.abort();
      await waitFor("slot freed", async () => ((await (await fetch(`${o}/healthz`)).text()).includes("streams=1") ? true : undefined), 5_000);
      expect((await stream(cookieOf(a))).status).toBe(200);
    } finally {
      for (const ac of aborts) ac.abort();
      await small.close();
    }
  });

  it("refuses a token the API server does not accept", async () => {
    expect((await signIn("not-a-real-token")).status).toBe(401);
  });

  it("a viewer sees but cannot deactivate (403 from the API server); an admin can", async () => {
    const { setPairing } = await import("@devreg/operator");
    await setPairing(env.rest, env.ns, { enabled: true, forSeconds: 60 });
    const reg = await createDevice(gatewayRegs);
    await waitForPhase(env.regs, reg.metadata.name, "Approved");

    const viewer = await signIn(await serviceAccountToken(env.rest, env.ns, "victor-viewer"));
    expect(viewer.session?.user).toBe(`system:serviceaccount:${env.ns}:victor-viewer`);
    const detail = await fetch(`${origin}/api/devices/${reg.metadata.name}`, { headers: { cookie: viewer.cookie } });
    expect(detail.status).toBe(200);
    const refused = await act(viewer, `/api/devices/${reg.metadata.name}/deactivate`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("E_KUBE_FORBIDDEN");

    const admin = await signIn(await serviceAccountToken(env.rest, env.ns, "alice-admin"));
    const done = await act(admin, `/api/devices/${reg.metadata.name}/deactivate`);
    expect(done.status).toBe(200);
    await waitForPhase(env.regs, reg.metadata.name, "Deactivated");
  });

  it("manual mode: a viewer trying Approve in the browser reads why it was refused; the policy needs the verb approve; an admin approves", async () => {
    const { setPairing } = await import("@devreg/operator");
    await setPairing(env.rest, env.ns, { enabled: true, forSeconds: 120, mode: "manual" });
    const reg = await createDevice(gatewayRegs, { serialNumber: "<b>SN-1</b>" });
    const name = reg.metadata.name;
    await waitFor(`${name} to await approval`, async () => (await env.regs.get(name)).status?.reason === "AwaitingApproval");

    // The viewer, in Chromium, through the bearer sign-in form.
    const browser = await launchBrowser();
    cleanup.add(() => browser.close());
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${origin}/`);
    await page.getByLabel("Kubernetes bearer token").fill(await serviceAccountToken(env.rest, env.ns, "victor-viewer"));
    await page.getByRole("button", { name: "Sign in" }).click();
    const viewerName = `system:serviceaccount:${env.ns}:victor-viewer`;
    await expect.poll(() => page.getByTestId("user").textContent(), { timeout: 10_000 }).toBe(viewerName);
    const row = page.locator(`.viewport tbody tr[data-name="${name}"]`);
    await expect.poll(() => row.locator(".c-reason").textContent(), { timeout: 10_000 }).toBe("AwaitingApproval");
    await row.click();
    const detail = page.getByRole("dialog", { name });
    await detail.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("dialog", { name: `Approve ${name}?` }).getByRole("button", { name: "Approve" }).click();
    const toast = page.locator(".status p.error");
    await expect.poll(() => toast.textContent(), { timeout: 10_000 }).toContain(`Approve ${name}: Not allowed: ${viewerName} may not approve ${name}.`);
    const text = (await toast.textContent()) ?? "";
    expect(text).toContain("it needs the verbs patch and approve on deviceregistrations (Role devreg-admin)");
    expect(text).toMatch(/The API server said: .*forbidden/);
    expect(await detail.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}rbac-viewer-approve-403.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
    expect((await env.regs.get(name)).spec.approval).toBeUndefined();

    // RBAC allows the patch; the admission policy does not, without the verb approve.
    const patcher = await signIn(await serviceAccountToken(env.rest, env.ns, "paula-patcher"));
    const byPolicy = await act(patcher, `/api/devices/${name}/approve`);
    expect(byPolicy.status).toBe(403);
    const policyBody = (await byPolicy.json()) as { code: string; message: string };
    expect(policyBody.code).toBe("E_KUBE_FORBIDDEN");
    expect(policyBody.message).toContain("may not change spec.approval: that needs the verb approve");
    expect((await env.regs.get(name)).spec.approval).toBeUndefined();

    const admin = await signIn(await serviceAccountToken(env.rest, env.ns, "alice-admin"));
    const approved = await act(admin, `/api/devices/${name}/approve`);
    expect(approved.status).toBe(200);
    const done = await waitForPhase(env.regs, name, "Approved");
    expect(done.status?.decidedBy).toBe("admin:devreg-dashboard");
    expect(done.status?.approvedBy).toEqual({ kind: "Admin", admin: "devreg-dashboard" });
    expect(done.status?.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("the dashboard's own ServiceAccount has no rights (and mounts no token)", async () => {
    const own = await signIn(await serviceAccountToken(env.rest, env.ns, "devreg-dashboard"));
    expect(own.status).toBe(200);
    const detail = await fetch(`${origin}/api/devices/anything`, { headers: { cookie: own.cookie } });
    expect(detail.status).toBe(403);
  });
});
