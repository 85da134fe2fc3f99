import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Informer, dropManagedFields } from "../src/informer.ts";
import { Registrations } from "../src/registrations.ts";
import type { KubeRest } from "../src/rest.ts";
import type { DeviceRegistration } from "../src/types.ts";
import { freshNamespace, randomPublicKeyB64, testKube } from "../test-support/kube.ts";

let rest: KubeRest;
let ns: string;
let regs: Registrations;

beforeAll(async () => {
  ({ rest } = await testKube());
  ns = await freshNamespace(rest, "informer");
  regs = new Registrations(rest, ns);
});
afterAll(() => rest.close());

function reg(name: string) {
  return { metadata: { name }, spec: { publicKey: randomPublicKeyB64(), deviceId: "0".repeat(32), model: "m", firmwareVersion: "1" } };
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("Informer and paged lists on the real apiserver", () => {
  it("applies its transform to listed and watched objects; updates still carry the new resourceVersion", async () => {
    const listed = await regs.create(reg("listed"));
    expect(listed.metadata).toHaveProperty("managedFields"); // the apiserver does send them
    const inf = new Informer<DeviceRegistration>(rest, { path: regs.collectionPath(), transform: dropManagedFields });
    const updates: DeviceRegistration[] = [];
    inf.on("update", (obj) => updates.push(obj));
    inf.start();
    try {
      await inf.waitForSync(10_000);
      expect(inf.get(`${ns}/listed`)?.metadata).not.toHaveProperty("managedFields");

      const watched = await regs.create(reg("watched"));
      await until("the watched add", () => inf.get(`${ns}/watched`) !== undefined);
      expect(inf.get(`${ns}/watched`)?.metadata).not.toHaveProperty("managedFields");

      const patched = await regs.patch("watched", { spec: { deactivate: true } });
      await until("the update", () => updates.length > 0);
      expect(updates[0]?.metadata.resourceVersion).toBe(patched.metadata.resourceVersion);
      expect(updates[0]?.metadata.resourceVersion).not.toBe(watched.metadata.resourceVersion);
      expect(updates[0]?.metadata).not.toHaveProperty("managedFields");
      expect(updates[0]?.spec.deactivate).toBe(true);
    } finally {
      await inf.stop();
    }
  });

  it("KubeRest.listAll follows continue tokens across pages", async () => {
    await Promise.all(["page-a", "page-b", "page-c"].map((n) => regs.create(reg(n))));
    const whole = await regs.listAll();
    const paged = await rest.listAll<DeviceRegistration>(regs.collectionPath(), {}, { pageSize: 1 });
    expect(paged.items.map((r) => r.metadata.name).sort()).toEqual(whole.map((r) => r.metadata.name).sort());
    expect(paged.items.length).toBeGreaterThanOrEqual(3);
    expect(paged.resourceVersion).toMatch(/^\d+$/);
  });
});
