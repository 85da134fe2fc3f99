import { type KubeRest, applyLocalDeploy, resolveKubeConfig, serviceAccountToken } from "@devreg/kube";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevice, waitForPhase } from "../../operator/test/helpers.ts";
import { Cleanup, type TestEnv, startTestOperator, testEnv } from "../../gateway-mqtt/test/helpers.ts";
import { type DashboardHandle, ensureBuilt, startDashboard } from "../src/index.ts";

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
    for (const sa of ["alice-admin", "victor-viewer"]) {
      await env.rest.request("POST", `/api/v1/namespaces/${env.ns}/serviceaccounts`, { body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } } });
    }
    await bind(env.rest, env.ns, "alice-admin", ["devreg-admin", "devreg-dashboard-viewer"]);
    await bind(env.rest, env.ns, "victor-viewer", ["devreg-dashboard-viewer"]);
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

  it("refuses a token the API server does not accept", async () => {
    expect((await signIn("not-a-real-token")).status).toBe(401);
  });

  it("a viewer sees but cannot deactivate (403 from the API server); an admin can", async () => {
    const { setPairing } = await import("@devreg/operator");
    await setPairing(env.rest, env.ns, { enabled: true, forSeconds: 60 });
    const reg = await createDevice(env.regs);
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

  it("the dashboard's own ServiceAccount has no rights (and mounts no token)", async () => {
    const own = await signIn(await serviceAccountToken(env.rest, env.ns, "devreg-dashboard"));
    expect(own.status).toBe(200);
    const detail = await fetch(`${origin}/api/devices/anything`, { headers: { cookie: own.cookie } });
    expect(detail.status).toBe(403);
  });
});
