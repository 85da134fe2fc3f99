import { describe, expect, it } from "vitest";
import { useGatewaySuite } from "./helpers.ts";

// [issue 14] A ResourceQuota on deviceregistrations (deploy/resourcequota.yaml) bounds what a
// flood can write to etcd; when it refuses the gateway's create, the device is told busy
// (retry later), not given an error, and the process keeps serving others.
const t = useGatewaySuite("quota", { pairing: true });
const COUNT = "count/deviceregistrations.devices.example.com";

describe("the registry is full (ResourceQuota)", () => {
  it("a create the quota refuses is answered busy (the registry is full) with retryAfterSeconds; enrolled devices are unaffected", async () => {
    const { rest, ns } = t.env;
    const quotas = `/api/v1/namespaces/${ns}/resourcequotas`;
    await rest.request("POST", quotas, {
      body: { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "devreg-registrations" }, spec: { hard: { [COUNT]: "2" } } },
    });
    // The local control plane runs no kube-controller-manager, whose quota controller would
    // fill in status; quota admission counts from this status and increments it on each create.
    await rest.request("PUT", `${quotas}/devreg-registrations/status`, {
      body: {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "devreg-registrations", resourceVersion: (await rest.request<{ metadata: { resourceVersion: string } }>("GET", `${quotas}/devreg-registrations`)).metadata.resourceVersion },
        spec: { hard: { [COUNT]: "2" } },
        status: { hard: { [COUNT]: "2" }, used: { [COUNT]: "0" } },
      },
    });

    const enrolled = [t.device(), t.device()];
    for (const d of enrolled) {
      await d.connect(t.gw.mqttPort);
      expect((await d.enroll(t.gw.publicKey)).status).toBe("approved");
    }
    const third = t.device();
    await third.connect(t.gw.mqttPort);
    const reply = await third.enroll(t.gw.publicKey);
    // The wire reason is always SPEC's Busy [PROTO-27]; the cause is in the message.
    expect(reply).toMatchObject({ status: "busy", reason: "Busy", message: expect.stringContaining("ResourceQuota") });
    expect(reply.retryAfterSeconds).toBeGreaterThanOrEqual(60);

    // Already enrolled devices still get their UUID back (no create needed).
    const again = await enrolled[0]!.enroll(t.gw.publicKey);
    expect(again.status).toBe("approved");
    const list = await rest.request<{ items: unknown[] }>("GET", `/apis/devices.example.com/v1alpha1/namespaces/${ns}/deviceregistrations`);
    expect(list.items).toHaveLength(2);
  });
});
