import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayHandle, startGateway } from "@devreg/gateway-mqtt";
import { Registrations } from "@devreg/kube";
import { type OperatorHandle, setPairing, startOperator } from "@devreg/operator";
import { createGatewaySigner } from "@devreg/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { createIdentity, identityFileName, nodeCrypto, runFleet, VirtualMcu } from "../src/index.ts";

// A fleet of virtual MCUs through the real gateway and the real operator on the real
// control plane: the whole path a device takes, nothing faked.
const LOG = (process.env.DEVREG_TEST_LOG ?? "silent") as "silent";
let kube: Awaited<ReturnType<typeof testKube>>;
let ns: string;
let regs: Registrations;
let operator: OperatorHandle;
let gateway: GatewayHandle;
let dir: string;
let mqttUrl: string;

beforeAll(async () => {
  kube = await testKube();
  ns = await freshNamespace(kube.rest, "fsim");
  regs = new Registrations(kube.rest, ns);
  dir = await mkdtemp(join(tmpdir(), "fsim-e2e-"));
  operator = await startOperator({
    kubeconfig: kube.kubeconfig,
    namespace: ns,
    httpPort: 0,
    identity: "op-fsim",
    logLevel: LOG,
  });
  await operator.waitForLeadership(20_000);
  gateway = await startGateway({
    kubeconfig: kube.kubeconfig,
    namespace: ns,
    gatewayId: `gw-${randomBytes(3).toString("hex")}`,
    mqtt: { host: "127.0.0.1", port: 0 },
    http: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    logLevel: LOG,
  });
  mqttUrl = `mqtt://127.0.0.1:${gateway.mqttPort}`;
});

afterAll(async () => {
  await gateway?.stop();
  await operator?.stop();
  kube?.rest.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const FLEET = 200;

describe("fleet against the real gateway and operator", () => {
  it(`enrolls ${FLEET} devices while pairing is open, each with its own registration and UUID`, async () => {
    await setPairing(kube.rest, ns, { enabled: true, forSeconds: 600 });
    // 100/s; each device connects from its own loopback address (the fleet's default).
    const summary = await runFleet({
      count: FLEET,
      rate: 100,
      mqttUrl,
      gatewayPublicKey: gateway.publicKey,
      identitiesDir: dir,
      metadata: { model: "fsim-e2e", firmwareVersion: "3.1.4" },
      deadlineMs: 90_000,
    });
    expect(summary.errors).toEqual({});
    expect(summary.outcomes).toEqual({
      enrolled: FLEET,
      rejected: 0,
      deactivated: 0,
      failed: 0,
      unfinished: 0,
    });
    expect(summary.allFinal).toBe(true);
    expect(summary.counters.refusedReplies).toBe(0);
    expect(summary.latencyMs.reply.count).toBe(FLEET);

    const list = await regs.list();
    expect(list.items).toHaveLength(FLEET);
    const uuidByDevice = new Map(list.items.map((r) => [r.spec.deviceId, r.status?.deviceUUID]));
    for (let i = 0; i < FLEET; i++) {
      const file = JSON.parse(await readFile(join(dir, identityFileName(i)), "utf8"));
      expect(file.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
      expect(uuidByDevice.get(file.deviceId)).toBe(file.deviceUUID);
    }
    expect(list.items[0]!.spec).toMatchObject({ model: "fsim-e2e", firmwareVersion: "3.1.4" });
  });

  it("re-running the same fleet with pairing closed gets the same UUIDs back (same keys)", async () => {
    await setPairing(kube.rest, ns, { enabled: false });
    const before = await Promise.all(
      Array.from({ length: FLEET }, async (_, i) =>
        JSON.parse(await readFile(join(dir, identityFileName(i)), "utf8")),
      ),
    );
    const summary = await runFleet({
      count: FLEET,
      rate: 100,
      mqttUrl,
      gatewayPublicKey: gateway.publicKey,
      identitiesDir: dir,
    });
    expect(summary.outcomes.enrolled).toBe(FLEET);
    for (let i = 0; i < FLEET; i++) {
      const after = JSON.parse(await readFile(join(dir, identityFileName(i)), "utf8"));
      expect(after).toMatchObject({ deviceId: before[i].deviceId, deviceUUID: before[i].deviceUUID });
    }
    expect((await regs.list()).items).toHaveLength(FLEET);
  });

  it("new devices are rejected while pairing is closed", async () => {
    await setPairing(kube.rest, ns, { enabled: false });
    const summary = await runFleet({ count: 5, rate: 50, mqttUrl, gatewayPublicKey: gateway.publicKey });
    expect(summary.outcomes).toMatchObject({ rejected: 5, enrolled: 0, failed: 0 });
    expect(summary.allFinal).toBe(true);
    expect(Object.keys(summary.errors)).toEqual([expect.stringMatching(/^rejected: /)]);
  });

  it("an enrolled device that stays connected hears its deactivation", async () => {
    await setPairing(kube.rest, ns, { enabled: true, forSeconds: 600 });
    const mcu = new VirtualMcu({
      mqttUrl,
      gatewayPublicKey: gateway.publicKey,
      identity: createIdentity(nodeCrypto),
      crypto: "node",
    });
    try {
      const enrolled = await mcu.start();
      expect(enrolled.phase).toBe("enrolled");
      const final = once(mcu, "final");
      await regs.patch(`dev-${mcu.deviceId}`, { spec: { deactivate: true } });
      const [outcome] = await final;
      expect(outcome).toMatchObject({ phase: "deactivated", deviceUUID: enrolled.deviceUUID });
    } finally {
      await mcu.stop();
    }
  });

  it("a fleet spreads over loopback source addresses, so a per-address limit applies per device host", async () => {
    await setPairing(kube.rest, ns, { enabled: true, forSeconds: 600 });
    // A gateway allowing each address 2 CONNECTs at once and 1/s after that.
    const strict = await startGateway({
      kubeconfig: kube.kubeconfig,
      namespace: ns,
      gatewayId: `gw-strict-${randomBytes(3).toString("hex")}`,
      mqtt: { host: "127.0.0.1", port: 0 },
      http: false,
      admin: { host: "127.0.0.1", port: 0 },
      limits: { connectPerAddress: { ratePerSecond: 1, burst: 2 } },
      logLevel: LOG,
    });
    try {
      const url = `mqtt://127.0.0.1:${strict.mqttPort}`;
      // Default: one address per device, so 40 devices at 200/s never meet the limit.
      const spread = await runFleet({ count: 40, rate: 200, mqttUrl: url, gatewayPublicKey: strict.publicKey });
      expect(spread.outcomes.enrolled).toBe(40);
      expect(spread.retries).toEqual({});
      // The same fleet from one address: the limit refuses CONNECTs, the devices back off and retry.
      const oneHost = await runFleet({
        count: 8,
        rate: 200,
        mqttUrl: url,
        gatewayPublicKey: strict.publicKey,
        sourceAddresses: 1,
        deadlineMs: 60_000,
      });
      expect(oneHost.outcomes.enrolled).toBe(8);
      expect(Object.values(oneHost.retries).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    } finally {
      await strict.stop();
    }
  });

  it("a fleet pinning the wrong gateway key stops with E_GATEWAY_KEY_MISMATCH", async () => {
    const err = await runFleet({
      count: 3,
      rate: 50,
      mqttUrl,
      gatewayPublicKey: createGatewaySigner().publicKey,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_GATEWAY_KEY_MISMATCH" });
  });
});
