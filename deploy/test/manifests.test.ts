import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dump, loadAll } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualMcu, createIdentity, nodeCrypto } from "@devreg/firmware-sim";
import { startGateway } from "@devreg/gateway-mqtt";
import { setPairing, startOperator } from "@devreg/operator";
import { KubeRest } from "../../kube/src/rest.ts";
import { resolveKubeConfig } from "../../kube/src/kubeconfig.ts";
import { kubeconfigForToken, serviceAccountToken, testKube } from "../../kube/test-support/kube.ts";

const DEPLOY = resolve(import.meta.dirname, "..");
const NS = "device-operator-system";

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

let rest: KubeRest;
let kubeconfig: string;
let docs: Doc[];
const tmp = mkdtempSync(join(tmpdir(), "devreg-deploy-"));

function kubectl(args: string[], input?: string): string {
  return execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input });
}

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  docs = loadAll(execFileSync("kubectl", ["kustomize", DEPLOY], { encoding: "utf8" })) as Doc[];
  // Namespaced objects can only be dry-run into a namespace that exists.
  kubectl(["apply", "-f", "-"], dump(docs.find((d) => d.kind === "Namespace")));
});
afterAll(() => rest.close());

describe("deploy/ (kustomize) on the real apiserver", () => {
  it("renders every part the issue asks for, with the CRD taken from crds/", () => {
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of [
      "Namespace/device-operator-system",
      "CustomResourceDefinition/deviceregistrations.devices.example.com",
      "ServiceAccount/devreg-gateway",
      "ServiceAccount/devreg-operator",
      "ConfigMap/devreg-pairing",
      "Deployment/devreg-gateway",
      "Deployment/devreg-operator",
      "Service/devreg-gateway",
      "PodDisruptionBudget/devreg-gateway",
      "NetworkPolicy/default-deny",
      "ValidatingAdmissionPolicy/devreg-registrations",
      "ValidatingAdmissionPolicyBinding/devreg-registrations",
    ]) {
      expect(kinds).toContain(k);
    }
    const svc = docs.find((d) => d.kind === "Service" && d.metadata.name === "devreg-gateway")!;
    const ports = (svc.spec as { ports: Array<{ name: string; port: number; nodePort?: number }> }).ports;
    expect(ports.find((p) => p.name === "mqtt")?.port).toBe(1883);
    // The original design's HTTP NodePort.
    expect(ports.find((p) => p.name === "http")?.nodePort).toBe(30007);
    // Per-address limits need each device's own address: no SNAT on the way in.
    expect((svc.spec as { externalTrafficPolicy?: string }).externalTrafficPolicy).toBe("Local");
    const gateway = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "devreg-gateway")!;
    const spread = (
      gateway.spec as { template: { spec: { topologySpreadConstraints?: Array<{ topologyKey: string }> } } }
    ).template.spec.topologySpreadConstraints;
    expect(spread?.map((c) => c.topologyKey)).toEqual(["kubernetes.io/hostname"]);
    const pairing = docs.find((d) => d.kind === "ConfigMap") as Doc & { data: Record<string, string> };
    expect(pairing.data.enabled).toBe("false");
  });

  it("runs every pod with restricted security, probes, resources and graceful termination", () => {
    for (const d of docs.filter((x) => x.kind === "Deployment")) {
      interface Container {
        securityContext?: unknown;
        readinessProbe?: { httpGet?: { path?: string } };
        livenessProbe?: { httpGet?: { path?: string } };
        resources: { requests?: unknown; limits?: unknown };
      }
      const pod = (
        d.spec as {
          template: {
            spec: {
              securityContext?: unknown;
              terminationGracePeriodSeconds?: number;
              containers: Container[];
            };
          };
        }
      ).template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
        expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
        expect(c.resources.requests).toBeDefined();
        expect(c.resources.limits).toBeDefined();
      }
    }
  });

  it("passes a server-side dry-run, manifest by manifest", async () => {
    for (const d of docs) {
      const out = kubectl(["apply", "--dry-run=server", "-o", "name", "-f", "-"], dump(d));
      expect(out.trim(), `${d.kind}/${d.metadata.name}`).toMatch(/\//);
    }
  });

  it("enforces Pod Security restricted on the namespace: every Deployment's pod is admitted, an unhardened one is not", () => {
    const ns = docs.find((d) => d.kind === "Namespace") as Doc & {
      metadata: { labels: Record<string, string> };
    };
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    // Pod Security admission enforces on Pods (on Deployments it only warns), so each
    // Deployment's pod template is dry-run as the Pod its ReplicaSet would create (whose
    // ServiceAccount must exist).
    kubectl(
      ["apply", "-f", "-"],
      docs
        .filter((d) => d.kind === "ServiceAccount")
        .map((d) => dump(d))
        .join("---\n"),
    );
    for (const d of docs.filter((x) => x.kind === "Deployment")) {
      const template = (d.spec as { template: { metadata?: unknown; spec: Record<string, unknown> } })
        .template;
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `${d.metadata.name}-psa`, namespace: NS },
        spec: template.spec,
      };
      expect(kubectl(["apply", "--dry-run=server", "-o", "name", "-f", "-"], dump(pod)).trim()).toBe(
        `pod/${d.metadata.name}-psa`,
      );
    }
    // A pod with no security settings at all: fine under baseline, refused under restricted.
    const unhardened = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "unhardened-psa", namespace: NS },
      spec: { serviceAccountName: "devreg-gateway", containers: [{ name: "c", image: "devreg:0.1.0" }] },
    };
    const refused = spawnSync(
      "kubectl",
      ["--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-f", "-"],
      {
        encoding: "utf8",
        input: dump(unhardened),
      },
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false.*runAsNonRoot != true/,
    );
  });

  describe("RBAC with real ServiceAccount tokens (TokenRequest)", () => {
    let gateway: KubeRest;
    let operator: KubeRest;
    let gatewayKubeconfig: string;
    let operatorKubeconfig: string;
    const regPath = `/apis/devices.example.com/v1alpha1/namespaces/${NS}/deviceregistrations`;

    beforeAll(async () => {
      const rbac = docs.filter((d) =>
        ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"].includes(d.kind),
      );
      kubectl(["apply", "-f", "-"], rbac.map((d) => dump(d)).join("---\n"));
      gatewayKubeconfig = kubeconfigForToken(
        kubeconfig,
        await serviceAccountToken(rest, NS, "devreg-gateway"),
        join(tmp, "gw"),
      );
      operatorKubeconfig = kubeconfigForToken(
        kubeconfig,
        await serviceAccountToken(rest, NS, "devreg-operator"),
        join(tmp, "op"),
      );
      gateway = await KubeRest.fromKubeConfig(resolveKubeConfig(gatewayKubeconfig).kc);
      operator = await KubeRest.fromKubeConfig(resolveKubeConfig(operatorKubeconfig).kc);
    });
    afterAll(() => {
      gateway?.close();
      operator?.close();
    });

    it("lets the gateway create/get/list/watch (and, for adoption, patch) registrations and nothing else", async () => {
      const body = {
        apiVersion: "devices.example.com/v1alpha1",
        kind: "DeviceRegistration",
        metadata: { name: "rbac-probe" },
        spec: { publicKey: Buffer.alloc(32, 7).toString("base64") },
      };
      await gateway.request("POST", regPath, { body });
      await expect(gateway.request("GET", `${regPath}/rbac-probe`)).resolves.toMatchObject({
        metadata: { name: "rbac-probe" },
      });
      await expect(gateway.request("GET", regPath)).resolves.toMatchObject({ items: expect.any(Array) });
      // Forbidden: writing status (only the operator decides), reading Secrets, deleting.
      await expect(
        gateway.request("PATCH", `${regPath}/rbac-probe/status`, {
          body: { status: { phase: "Approved" } },
          contentType: "application/merge-patch+json",
        }),
      ).rejects.toMatchObject({ code: "E_KUBE_FORBIDDEN", status: 403 });
      await expect(gateway.request("GET", `/api/v1/namespaces/${NS}/secrets`)).rejects.toMatchObject({
        status: 403,
      });
      await expect(gateway.request("DELETE", `${regPath}/rbac-probe`)).rejects.toMatchObject({ status: 403 });
      // Read-only on the one pairing ConfigMap, by name (issue 14: refusals without writes):
      // get, and list/watch with fieldSelector metadata.name=devreg-pairing; nothing else.
      await expect(
        gateway.request("GET", `/api/v1/namespaces/${NS}/configmaps/devreg-pairing`),
      ).resolves.toMatchObject({
        metadata: { name: "devreg-pairing" },
      });
      await expect(
        gateway.request("GET", `/api/v1/namespaces/${NS}/configmaps`, {
          query: { fieldSelector: "metadata.name=devreg-pairing" },
        }),
      ).resolves.toMatchObject({ items: expect.any(Array) });
      await expect(gateway.request("GET", `/api/v1/namespaces/${NS}/configmaps`)).rejects.toMatchObject({
        status: 403,
      });
      await expect(
        gateway.request("PATCH", `/api/v1/namespaces/${NS}/configmaps/devreg-pairing`, {
          body: { data: { enabled: "true" } },
          contentType: "application/merge-patch+json",
        }),
      ).rejects.toMatchObject({ status: 403 });
      // The allowlist CRD may have been installed a moment ago (429 "storage is (re)initializing").
      const allowances = `/apis/devices.example.com/v1alpha1/namespaces/${NS}/deviceallowances`;
      let listed: unknown;
      for (let i = 0; i < 50 && listed === undefined; i++) {
        listed = await gateway.request("GET", allowances).catch(async (e) => {
          if (i === 49 || (e as { status?: number }).status !== 429) throw e;
          await new Promise((r) => setTimeout(r, 200));
          return undefined;
        });
      }
      expect(listed).toMatchObject({ items: expect.any(Array) });
    });

    it("lets the operator write status, pairing and leases, delete registrations (TTL cleanup), never create them", async () => {
      await expect(
        operator.request("PATCH", `${regPath}/rbac-probe/status`, {
          body: {
            status: { phase: "Rejected", reason: "PairingDisabled", message: "probe", decidedBy: "probe" },
          },
          contentType: "application/merge-patch+json",
        }),
      ).resolves.toMatchObject({ status: { phase: "Rejected" } });
      // The cleanup deletes (issue 14); dry-run keeps the probe for the next tests.
      await expect(
        operator.request("DELETE", `${regPath}/rbac-probe`, { query: { dryRun: "All" } }),
      ).resolves.toBeDefined();
      await expect(
        operator.request("POST", regPath, {
          body: {
            apiVersion: "devices.example.com/v1alpha1",
            kind: "DeviceRegistration",
            metadata: { name: "op-create" },
            spec: { publicKey: Buffer.alloc(32, 8).toString("base64") },
          },
        }),
      ).rejects.toMatchObject({ status: 403 });
      await expect(
        operator.request("PATCH", `${regPath}/rbac-probe`, {
          body: { spec: { deactivate: true } },
          contentType: "application/merge-patch+json",
        }),
      ).rejects.toMatchObject({ status: 403 });
      await expect(operator.request("GET", `/api/v1/namespaces/${NS}/secrets`)).rejects.toMatchObject({
        status: 403,
      });
      // The allowlist: read it, record an entry's use on its status, never write its spec.
      const allowances = `/apis/devices.example.com/v1alpha1/namespaces/${NS}/deviceallowances`;
      await rest.request("POST", allowances, {
        body: {
          apiVersion: "devices.example.com/v1alpha1",
          kind: "DeviceAllowance",
          metadata: { name: "rbac-allow" },
          spec: { publicKey: Buffer.alloc(32, 9).toString("base64") },
        },
      });
      await expect(
        operator.request("PATCH", `${allowances}/rbac-allow/status`, {
          body: { status: { usedBy: "rbac-probe" } },
          contentType: "application/merge-patch+json",
        }),
      ).resolves.toMatchObject({ status: { usedBy: "rbac-probe" } });
      await expect(
        operator.request("PATCH", `${allowances}/rbac-allow`, {
          body: { spec: { description: "x" } },
          contentType: "application/merge-patch+json",
        }),
      ).rejects.toMatchObject({ status: 403 });
      // Pairing: get/patch by name; another ConfigMap cannot be read by name.
      await expect(
        operator.request("GET", `/api/v1/namespaces/${NS}/configmaps/devreg-pairing`),
      ).resolves.toBeTruthy();
      await expect(
        operator.request("GET", `/api/v1/namespaces/${NS}/configmaps/other`),
      ).rejects.toMatchObject({
        status: 403,
      });
      // Leader election: create the Lease, then update only the named one.
      const lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "devreg-operator" },
        spec: { holderIdentity: "probe", leaseDurationSeconds: 1 },
      };
      await operator
        .request("POST", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, { body: lease })
        .catch((e) => expect(e).toMatchObject({ code: "E_KUBE_ALREADY_EXISTS" }));
      await expect(
        operator.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/devreg-operator`),
      ).resolves.toBeTruthy();
      await expect(
        operator.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/someone-else`),
      ).rejects.toMatchObject({ status: 403 });
    });

    describe("admission policy (deploy/policy): what RBAC cannot say", () => {
      const policyDocs = () => docs.filter((d) => d.kind.startsWith("ValidatingAdmissionPolicy"));
      const asUser = async (name: string, role: string) => {
        const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: NS } };
        const binding = {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name, namespace: NS },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role },
          subjects: [{ kind: "ServiceAccount", name, namespace: NS }],
        };
        kubectl(["apply", "-f", "-"], [sa, binding].map((d) => dump(d)).join("---\n"));
        const kc = kubeconfigForToken(kubeconfig, await serviceAccountToken(rest, NS, name), join(tmp, name));
        return KubeRest.fromKubeConfig(resolveKubeConfig(kc).kc);
      };
      let editor: KubeRest;
      let admin: KubeRest;

      beforeAll(async () => {
        kubectl(
          ["apply", "-f", "-"],
          policyDocs()
            .map((d) => dump(d))
            .join("---\n"),
        );
        // A Role with plain patch on registrations, as a broad "editor" role would have.
        kubectl(
          ["apply", "-f", "-"],
          dump({
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: "registration-editor", namespace: NS },
            rules: [
              {
                apiGroups: ["devices.example.com"],
                resources: ["deviceregistrations"],
                verbs: ["get", "patch", "create"],
              },
            ],
          }),
        );
        editor = await asUser("policy-editor", "registration-editor");
        admin = await asUser("policy-admin", "devreg-admin");
        const body = (name: string) => ({
          apiVersion: "devices.example.com/v1alpha1",
          kind: "DeviceRegistration",
          metadata: { name },
          spec: { publicKey: randomBytes(32).toString("base64") },
        });
        // The policy takes a moment to be loaded: wait until the gateway may create and an admin may not.
        const deadline = Date.now() + 30_000;
        for (let i = 0; ; i++) {
          const denied = await rest.request("POST", regPath, { body: body(`policy-wait-${i}`) }).then(
            () => false,
            (e) => (e as { status?: number }).status === 403,
          );
          if (denied) break;
          if (Date.now() > deadline) throw new Error("admission policy never took effect");
          await new Promise((r) => setTimeout(r, 250));
        }
        await gateway.request("POST", regPath, { body: body("policy-target") });
      });
      afterAll(() => {
        editor?.close();
        admin?.close();
        // Other test files create registrations as admin in this namespace.
        kubectl(
          ["delete", "--ignore-not-found", "-f", "-"],
          policyDocs()
            .map((d) => dump(d))
            .join("---\n"),
        );
      });

      it("the gateway may relabel a registration (adoption) but never change its spec", async () => {
        const patch = (body: unknown) =>
          gateway.request("PATCH", `${regPath}/policy-target`, {
            body,
            contentType: "application/merge-patch+json",
          });
        await expect(
          patch({ metadata: { labels: { "devices.example.com/gateway": "gw-b" } } }),
        ).resolves.toMatchObject({
          metadata: { labels: { "devices.example.com/gateway": "gw-b" } },
        });
        await expect(patch({ spec: { model: "forged" } })).rejects.toMatchObject({
          status: 403,
          message: expect.stringContaining("may only relabel a registration"),
        });
      });

      it("only the gateway's ServiceAccount creates registrations: an admin and an editor are refused", async () => {
        const body = {
          apiVersion: "devices.example.com/v1alpha1",
          kind: "DeviceRegistration",
          metadata: { name: "forged" },
          spec: { publicKey: randomBytes(32).toString("base64") },
        };
        for (const who of [rest, editor]) {
          await expect(who.request("POST", regPath, { body })).rejects.toMatchObject({
            status: 403,
            message: expect.stringContaining("only the devreg gateway"),
          });
        }
      });

      it("only a holder of the deactivate verb (devreg-admin) changes spec.deactivate; plain patch is not enough", async () => {
        const patch = (who: KubeRest, deactivate: boolean) =>
          who.request("PATCH", `${regPath}/policy-target`, {
            body: { spec: { deactivate } },
            contentType: "application/merge-patch+json",
          });
        await expect(patch(editor, true)).rejects.toMatchObject({
          status: 403,
          message: expect.stringContaining("may not change spec.deactivate"),
        });
        // Other spec fields are the editor's to change.
        await expect(
          editor.request("PATCH", `${regPath}/policy-target`, {
            body: { spec: { model: "m" } },
            contentType: "application/merge-patch+json",
          }),
        ).resolves.toBeTruthy();
        await expect(patch(admin, true)).resolves.toMatchObject({ spec: { deactivate: true } });
        await expect(patch(editor, false)).rejects.toMatchObject({ status: 403 });
        await expect(patch(admin, false)).resolves.toMatchObject({ spec: { deactivate: false } });
      });

      it("only a holder of the approve verb (devreg-admin) sets spec.approval (manual mode), as for a CSR", async () => {
        const approve = (who: KubeRest) =>
          who.request("PATCH", `${regPath}/policy-target`, {
            body: { spec: { approval: "Approve" } },
            contentType: "application/merge-patch+json",
          });
        await expect(approve(editor)).rejects.toMatchObject({
          status: 403,
          message: expect.stringContaining("may not change spec.approval"),
        });
        await expect(approve(admin)).resolves.toMatchObject({ spec: { approval: "Approve" } });
      });
    });

    it("runs the full enroll flow with operator and gateway bound only by deploy/'s RBAC", async () => {
      const op = await startOperator({
        kubeconfig: operatorKubeconfig,
        namespace: NS,
        httpPort: 0,
        httpHost: "127.0.0.1",
        logLevel: "silent",
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
      });
      const gw = await startGateway({
        kubeconfig: gatewayKubeconfig,
        namespace: NS,
        gatewayId: "rbac-e2e",
        mqtt: { host: "127.0.0.1", port: 0 },
        http: false,
        admin: { host: "127.0.0.1", port: 0 },
        logLevel: "silent",
      });
      try {
        await setPairing(rest, NS, { enabled: true, forSeconds: 120 });
        const mcu = new VirtualMcu({
          mqttUrl: `mqtt://127.0.0.1:${gw.mqttPort}`,
          gatewayPublicKey: gw.publicKey,
          identity: createIdentity(nodeCrypto),
          crypto: "node",
          stayConnected: false,
          deadlineMs: 60_000,
        });
        const outcome = await mcu.start();
        await mcu.stop();
        expect(outcome.phase).toBe("enrolled");
        expect(outcome.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
        const reg = await rest.request<{ status: { phase: string; deviceUUID: string } }>(
          "GET",
          `${regPath}/dev-${outcome.deviceId}`,
        );
        expect(reg.status).toMatchObject({ phase: "Approved", deviceUUID: outcome.deviceUUID });
      } finally {
        await setPairing(rest, NS, { enabled: false });
        await gw.stop();
        await op.stop();
      }
    });
  });
});
