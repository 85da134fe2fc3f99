import { setPairing } from "@devreg/operator";
import { LABEL_GATEWAY, Registrations } from "@devreg/kube";
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshNamespace, kubeconfigForToken, serviceAccountToken } from "../../kube/test-support/kube.ts";
import type { GatewayHandle } from "../src/index.ts";
import {
  type TestDevice,
  closedByBroker,
  startTestGateway,
  uuid4,
  waitFor,
  useGatewaySuite,
} from "./helpers.ts";

// Several replicas behind one Service: each watches only registrations labelled with its
// own id; a re-enroll that lands on another replica still works (README "Scale-out").
// Both replicas share the gateway key, as replicas behind one Service must.
const GATEWAY_KEY = new Uint8Array(32).fill(9);
const t = useGatewaySuite("scale", {
  pairing: true,
  gateways: [
    { gatewayId: "gw-a", key: GATEWAY_KEY },
    { gatewayId: "gw-b", key: GATEWAY_KEY },
  ],
});
let a: GatewayHandle;
let b: GatewayHandle;
beforeAll(() => {
  [a, b] = t.gateways as [GatewayHandle, GatewayHandle];
});

const labelOf = async (regs: Registrations, d: TestDevice) =>
  (await regs.get(`dev-${d.deviceId}`)).metadata.labels?.[LABEL_GATEWAY];

describe("scale-out", () => {
  it("a decided device re-enrolling on another replica gets the same UUID; that replica then owns it (and pushes its deactivation)", async () => {
    expect(Buffer.from(a.publicKey)).toEqual(Buffer.from(b.publicKey));
    const d = t.device();
    await d.connect(a.mqttPort);
    const first = await d.enroll(a.publicKey);
    expect(first.status).toBe("approved");
    expect(await labelOf(t.env.regs, d)).toBe("gw-a");

    await d.close();
    await d.connect(b.mqttPort);
    const again = await d.enroll(b.publicKey);
    expect(again).toMatchObject({ status: "approved", deviceUUID: first.deviceUUID });
    await waitFor(
      async () => ((await labelOf(t.env.regs, d)) === "gw-b" ? true : undefined),
      10_000,
      "adopted by gw-b",
    );

    // B now watches it: a deactivation reaches the device connected to B.
    const pushed = d.nextReply(15_000);
    const closed = closedByBroker(d.client!, 15_000);
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    await pushed;
    await closed;
  });

  it("an undecided registration created by another replica is adopted and answered through this replica's informer", async () => {
    const quiet = await freshNamespace(t.env.rest, "gw-scale-quiet");
    // No operator here: pairing open so the gateways record the registration (issue 14: a closed
    // or missing pairing ConfigMap is refused without a write), and it stays undecided.
    await setPairing(t.env.rest, quiet, { enabled: true });
    const regs = new Registrations(t.env.rest, quiet);
    const qa = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.perTest, {
      gatewayId: "q-a",
      decisionTimeoutMs: 300,
    });
    const qb = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.perTest, {
      gatewayId: "q-b",
      decisionTimeoutMs: 15_000,
    });

    const d = t.device();
    await d.connect(qa.mqttPort);
    expect((await d.enroll(qa.publicKey)).status).toBe("pending");
    expect(await labelOf(regs, d)).toBe("q-a");

    await d.close();
    await d.connect(qb.mqttPort);
    const answer = d.enroll(qb.publicKey, 20_000);
    await waitFor(
      async () => ((await labelOf(regs, d)) === "q-b" ? true : undefined),
      10_000,
      "adopted by q-b",
    );
    const uuid = uuid4();
    await regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid });
    expect(await answer).toMatchObject({ status: "approved", deviceUUID: uuid });
  });

  it("without RBAC patch (no adoption) an undecided foreign registration is awaited through one single-object watch", async () => {
    const quiet = await freshNamespace(t.env.rest, "gw-scale-rbac");
    // No operator here: pairing open so the gateways record the registration (issue 14: a closed
    // or missing pairing ConfigMap is refused without a write), and it stays undecided.
    await setPairing(t.env.rest, quiet, { enabled: true });
    const regs = new Registrations(t.env.rest, quiet);
    // A ServiceAccount that may create/get/list/watch registrations, but not patch them.
    const sa = "gw-no-patch";
    await t.env.rest.request("POST", `/api/v1/namespaces/${quiet}/serviceaccounts`, {
      body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } },
    });
    await t.env.rest.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${quiet}/roles`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: sa },
        rules: [
          {
            apiGroups: ["devices.example.com"],
            resources: ["deviceregistrations"],
            verbs: ["create", "get", "list", "watch"],
          },
          // As deploy/rbac/gateway-role.yaml: read-only on the one pairing ConfigMap.
          { apiGroups: [""], resources: ["configmaps"], resourceNames: ["devreg-pairing"], verbs: ["get", "list", "watch"] },
        ],
      },
    });
    await t.env.rest.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${quiet}/rolebindings`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: sa },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: sa },
        subjects: [{ kind: "ServiceAccount", name: sa, namespace: quiet }],
      },
    });
    const kc = kubeconfigForToken(
      t.env.kubeconfig,
      await serviceAccountToken(t.env.rest, quiet, sa),
      join(mkdtempSync(join(tmpdir(), "gw-rbac-")), "kc"),
    );
    const qa = await startTestGateway({ kubeconfig: kc, ns: quiet }, t.perTest, {
      gatewayId: "r-a",
      decisionTimeoutMs: 300,
    });
    const qb = await startTestGateway({ kubeconfig: kc, ns: quiet }, t.perTest, {
      gatewayId: "r-b",
      decisionTimeoutMs: 15_000,
    });

    const d = t.device();
    await d.connect(qa.mqttPort);
    expect((await d.enroll(qa.publicKey)).status).toBe("pending");
    await d.close();
    await d.connect(qb.mqttPort);
    const answer = d.enroll(qb.publicKey, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const uuid = uuid4();
    await regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid });
    expect(await answer).toMatchObject({ status: "approved", deviceUUID: uuid });
    expect(await labelOf(regs, d)).toBe("r-a"); // not adopted: the gateway could not patch
  });
});
