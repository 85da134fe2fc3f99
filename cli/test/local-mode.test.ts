import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type KubeRest, localDeployDocs } from "@devreg/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKube } from "../../kube/test-support/kube.ts";

const DEVREG = resolve(fileURLToPath(new URL("../../bin/devreg", import.meta.url)));

let rest: KubeRest;
let stateDir: string;
const ns = `local-${randomBytes(3).toString("hex")}`;

beforeAll(async () => {
  const k = await testKube();
  rest = k.rest;
  // The e2e control plane is a `devreg cluster up` state dir: its admin kubeconfig lives there.
  stateDir = dirname(k.kubeconfig);
});
afterAll(async () => {
  // The admission policy is cluster-wide: leave the shared control plane as other files expect it.
  for (const d of localDeployDocs(ns).filter((x) => x.kind.startsWith("ValidatingAdmissionPolicy"))) {
    const plural = d.kind === "ValidatingAdmissionPolicy" ? "validatingadmissionpolicies" : "validatingadmissionpolicybindings";
    await rest.request("DELETE", `/apis/admissionregistration.k8s.io/v1/${plural}/${d.metadata.name}`).catch(() => {});
  }
  rest?.close();
});

function jwtSubject(kubeconfigPath: string): string {
  const token = /token: (\S+)/.exec(readFileSync(kubeconfigPath, "utf8"))?.[1] ?? "";
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub: string };
  return payload.sub;
}

describe("local mode without admin rights", () => {
  it("devreg demo runs the gateway and the operator with their own ServiceAccount tokens, under deploy/'s RBAC and admission policy", async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      execFile(
        DEVREG,
        ["demo", "--devices", "20", "--rate", "50", "--namespace", ns, "--json"],
        { encoding: "utf8", timeout: 110_000, env: { ...process.env, KUBECONFIG: "", DEVREG_STATE_DIR: stateDir } },
        (err, stdout, stderr) => res({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcomes: { enrolled: 20 } });

    // Each component got a kubeconfig of its own, with a token of its own ServiceAccount only.
    const files = readdirSync(stateDir).filter((f) => f.endsWith(`-${ns}.kubeconfig`)).sort();
    expect(files).toEqual([`gateway-${ns}.kubeconfig`, `operator-${ns}.kubeconfig`]);
    expect(jwtSubject(join(stateDir, files[0]!))).toBe(`system:serviceaccount:${ns}:devreg-gateway`);
    expect(jwtSubject(join(stateDir, files[1]!))).toBe(`system:serviceaccount:${ns}:devreg-operator`);
    const adminToken = /token: (\S+)/.exec(readFileSync(join(stateDir, "kubeconfig"), "utf8"))?.[1];
    for (const f of files) expect(readFileSync(join(stateDir, f), "utf8")).not.toContain(adminToken);

    // The namespace is bound by the admission policy, under which only the gateway's
    // ServiceAccount may create registrations: so the 20 registrations were created by it
    // (the late device, refused while pairing was closed, cost no object), and the admin
    // cannot forge one.
    const list = await rest.request<{ items: unknown[] }>("GET", `/apis/devices.example.com/v1alpha1/namespaces/${ns}/deviceregistrations`);
    expect(list.items).toHaveLength(20);
    await expect(
      rest.request("POST", `/apis/devices.example.com/v1alpha1/namespaces/${ns}/deviceregistrations`, {
        body: {
          apiVersion: "devices.example.com/v1alpha1",
          kind: "DeviceRegistration",
          metadata: { name: "forged" },
          spec: { publicKey: randomBytes(32).toString("base64") },
        },
      }),
    ).rejects.toMatchObject({ status: 403, message: expect.stringContaining("only the devreg gateway") });
  });
});
