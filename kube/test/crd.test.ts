import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registrations } from "../src/registrations.ts";
import type { KubeRest } from "../src/rest.ts";
import { freshNamespace, randomPublicKeyB64, testKube } from "../test-support/kube.ts";

let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "crd");
  regs = new Registrations(rest, ns);
});
afterAll(() => rest.close());

describe("DeviceRegistration CRD on the real apiserver", () => {
  it("is served with the shortName devreg and a status subresource", async () => {
    const disc = await rest.request<{ resources: Array<{ name: string; shortNames?: string[] }> }>(
      "GET",
      "/apis/devices.example.com/v1alpha1",
    );
    const names = disc.resources.map((r) => r.name);
    expect(names).toContain("deviceregistrations");
    expect(names).toContain("deviceregistrations/status");
    expect(disc.resources.find((r) => r.name === "deviceregistrations")?.shortNames).toEqual(["devreg"]);
  });

  it("rejects a publicKey that is not 32 bytes of base64 (apiserver validation)", async () => {
    for (const bad of ["not-a-key", Buffer.alloc(31).toString("base64"), Buffer.alloc(33).toString("base64")]) {
      await expect(regs.create({ metadata: { name: `bad-${bad.length}` }, spec: { publicKey: bad } })).rejects.toMatchObject({
        code: "E_KUBE_INVALID",
        status: 422,
      });
    }
  });

  it("rejects an unknown phase in status", async () => {
    await regs.create({ metadata: { name: "phase-check" }, spec: { publicKey: randomPublicKeyB64() } });
    await expect(
      regs.patchStatus("phase-check", { phase: "Maybe" as never }),
    ).rejects.toMatchObject({ code: "E_KUBE_INVALID" });
  });

  describe("CEL rules (x-kubernetes-validations): the apiserver refuses, whoever writes", () => {
    it("spec.publicKey is immutable", async () => {
      await regs.create({ metadata: { name: "cel-key" }, spec: { publicKey: randomPublicKeyB64() } });
      await expect(regs.patch("cel-key", { spec: { publicKey: randomPublicKeyB64() } })).rejects.toMatchObject({
        code: "E_KUBE_INVALID",
        message: expect.stringContaining("spec.publicKey is immutable"),
      });
      // Other spec fields stay writable (the admin's deactivate, say).
      await expect(regs.patch("cel-key", { spec: { model: "m2" } })).resolves.toMatchObject({ spec: { model: "m2" } });
    });

    it("spec.deviceId is immutable once set, and cannot be removed", async () => {
      await regs.create({ metadata: { name: "cel-id" }, spec: { publicKey: randomPublicKeyB64(), deviceId: "abc" } });
      await expect(regs.patch("cel-id", { spec: { deviceId: "xyz" } })).rejects.toMatchObject({
        code: "E_KUBE_INVALID",
        message: expect.stringContaining("spec.deviceId is immutable"),
      });
      await expect(regs.patch("cel-id", { spec: { deviceId: null } as never })).rejects.toMatchObject({ code: "E_KUBE_INVALID" });
    });

    it("an Approved or Deactivated status carries a UUID, a Rejected one a reason", async () => {
      await regs.create({ metadata: { name: "cel-status" }, spec: { publicKey: randomPublicKeyB64() } });
      for (const phase of ["Approved", "Deactivated"] as const) {
        await expect(regs.patchStatus("cel-status", { phase })).rejects.toMatchObject({
          code: "E_KUBE_INVALID",
          message: expect.stringContaining("carries status.deviceUUID"),
        });
      }
      await expect(regs.patchStatus("cel-status", { phase: "Rejected" })).rejects.toMatchObject({
        message: expect.stringContaining("carries status.reason"),
      });
      await expect(regs.patchStatus("cel-status", { phase: "Pending" })).resolves.toBeTruthy();
    });

    it("status.deviceUUID never changes once assigned (a device keeps one UUID)", async () => {
      await regs.create({ metadata: { name: "cel-uuid" }, spec: { publicKey: randomPublicKeyB64() } });
      await regs.patchStatus("cel-uuid", { phase: "Approved", deviceUUID: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b" });
      await expect(
        regs.patchStatus("cel-uuid", { phase: "Approved", deviceUUID: "2b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b" }),
      ).rejects.toMatchObject({ code: "E_KUBE_INVALID", message: expect.stringContaining("status.deviceUUID is immutable") });
      // Deactivating keeps it: allowed.
      await expect(
        regs.patchStatus("cel-uuid", { phase: "Deactivated", deviceUUID: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b" }),
      ).resolves.toMatchObject({ status: { phase: "Deactivated" } });
    });
  });

  it("writes status only through the subresource; a spec write leaves status alone", async () => {
    const created = await regs.create({
      metadata: { name: "status-sub" },
      spec: { publicKey: randomPublicKeyB64(), model: "m1" },
      // The main resource ignores status on create.
      status: { phase: "Approved", deviceUUID: "00000000-0000-4000-8000-000000000000" },
    });
    expect(created.status?.phase).toBeUndefined();

    const uuid = "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f";
    const afterStatus = await regs.patchStatus("status-sub", { phase: "Approved", deviceUUID: uuid, message: "ok" });
    expect(afterStatus.status?.deviceUUID).toBe(uuid);

    // A merge-patch on the main resource that also tries to change status: spec changes, status does not.
    const afterSpec = await regs.patch("status-sub", { spec: { model: "m2" }, status: { phase: "Rejected" } });
    expect(afterSpec.spec.model).toBe("m2");
    expect(afterSpec.status?.phase).toBe("Approved");
    expect(afterSpec.metadata.generation).toBe(2);

    // And the status subresource ignores spec changes.
    const viaStatus = await rest.request<{ spec: { model: string } }>("PATCH", `${regs.itemPath("status-sub")}/status`, {
      body: { spec: { model: "m3" }, status: { message: "still ok" } },
      contentType: "application/merge-patch+json",
    });
    expect(viaStatus.spec.model).toBe("m2");
  });

  it("kubectl get devreg shows the printer columns", async () => {
    await regs.create({ metadata: { name: "printer" }, spec: { publicKey: randomPublicKeyB64(), deviceId: "abc123", model: "th-01" } });
    await regs.patchStatus("printer", { phase: "Approved", deviceUUID: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b" });
    const out = execFileSync("kubectl", ["--kubeconfig", kubeconfig, "-n", ns, "get", "devreg", "printer"], {
      encoding: "utf8",
    });
    const [header, row] = out.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["NAME", "PHASE", "UUID", "DEVICE", "MODEL", "AGE"]);
    expect(row).toMatch(/^printer\s+Approved\s+1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b\s+abc123\s+th-01\s+\d+s$/);
    const wide = execFileSync("kubectl", ["--kubeconfig", kubeconfig, "-n", ns, "get", "devreg", "-o", "wide"], {
      encoding: "utf8",
    });
    expect(wide.split("\n")[0]).toContain("DECIDED-BY");
  });
});
