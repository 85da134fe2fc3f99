import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatewaySigner } from "@devreg/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { approveAll, type FakeGateway, startFakeGateway, uuidFor } from "../test/support/fake-gateway.ts";
import { Fleet, type FleetProgress, runFleet } from "./fleet.ts";
import { identityFileName } from "./fleet-identities.ts";

let dir: string;
let gateway: FakeGateway | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fsim-fleet-"));
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("Fleet", () => {
  it("boots N devices at the given rate, reports progress and a summary", async () => {
    gateway = await startFakeGateway({
      // Every 5th device is told to come back later once, every 10th is rejected.
      decide: (req, ctx) => {
        const n = Number.parseInt(req.deviceId.slice(0, 4), 16);
        if (n % 10 === 0) return { status: "rejected", reason: "NotAllowed" };
        if (n % 5 === 0 && ctx.attempt === 0) return { status: "busy", retryAfterSeconds: 0 };
        return approveAll(req, ctx);
      },
    });
    const fleet = new Fleet({
      count: 60,
      rate: 200,
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      progressIntervalMs: 50,
    });
    const progress: FleetProgress[] = [];
    fleet.on("progress", (p) => progress.push(p));
    const summary = await fleet.run();
    expect(summary.outcomes.enrolled + summary.outcomes.rejected).toBe(60);
    expect(summary.outcomes).toMatchObject({ failed: 0, deactivated: 0, unfinished: 0 });
    expect(summary.allFinal).toBe(true);
    expect(summary.latencyMs.reply.count).toBe(60);
    expect(summary.latencyMs.bootToFinal.max).toBeGreaterThanOrEqual(summary.latencyMs.bootToFinal.p50);
    expect(summary.counters.requests).toBe(60 + summary.counters.busyReplies);
    if (summary.outcomes.rejected > 0)
      expect(summary.errors).toEqual({ "rejected: NotAllowed": summary.outcomes.rejected });
    // 60 devices at 200/s take ~300 ms to boot.
    expect(summary.durationMs).toBeGreaterThanOrEqual(250);
    expect(summary.rate.boot).toBeLessThanOrEqual(200);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toMatchObject({ booted: 60, final: 60 });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it("keeps identities in a directory, so a re-run boots the same devices with the same UUIDs", async () => {
    gateway = await startFakeGateway();
    const opts = {
      count: 5,
      rate: 100,
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      identitiesDir: dir,
    };
    expect((await runFleet(opts)).outcomes.enrolled).toBe(5);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([0, 1, 2, 3, 4].map(identityFileName));
    const before = await Promise.all(
      files.map(async (f) => JSON.parse(await readFile(join(dir, f), "utf8"))),
    );
    for (const f of before) expect(f.deviceUUID).toBe(uuidFor(f.deviceId));

    const again = await runFleet({ ...opts, count: 6 });
    expect(again.outcomes.enrolled).toBe(6);
    const after = await Promise.all(before.map((_, i) => readFile(join(dir, identityFileName(i)), "utf8")));
    after.forEach((text, i) => {
      expect(JSON.parse(text)).toMatchObject({ deviceId: before[i].deviceId, seed: before[i].seed });
    });
    expect(gateway.lastRequest.size).toBe(6);
  });

  it("fails fast with E_GATEWAY_KEY_MISMATCH when replies do not verify", async () => {
    gateway = await startFakeGateway();
    const t0 = Date.now();
    const err = await runFleet({
      count: 20,
      rate: 500,
      mqttUrl: gateway.url,
      gatewayPublicKey: createGatewaySigner().publicKey,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_GATEWAY_KEY_MISMATCH" });
    expect((err as Error).message).toMatch(/^gateway replies do not verify against the pinned key/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("fails fast with E_GATEWAY_UNREACHABLE when nothing listens", async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const url = `mqtt://127.0.0.1:${port}`;
    const err = await runFleet({
      count: 3,
      rate: 10,
      mqttUrl: url,
      gatewayPublicKey: new Uint8Array(32),
    }).catch((e) => e);
    expect(err).toMatchObject({
      code: "E_GATEWAY_UNREACHABLE",
      message: `cannot reach gateway at ${url}: ECONNREFUSED`,
    });
  });

  it("refuses a corrupt identity file before booting anything", async () => {
    gateway = await startFakeGateway();
    await writeFile(join(dir, identityFileName(1)), '{"version":1}');
    const err = await runFleet({
      count: 3,
      rate: 10,
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      identitiesDir: dir,
    }).catch((e) => e);
    expect(err).toMatchObject({ code: "E_IDENTITY_CORRUPT" });
    expect((err as Error).message).toContain(`identity file ${join(dir, identityFileName(1))} is corrupt: `);
    expect(gateway.stats.requests).toBe(0);
  });

  it("reports devices that gave up, by reason", async () => {
    gateway = await startFakeGateway({ decide: () => "drop" });
    const summary = await runFleet({
      count: 4,
      rate: 100,
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      deadlineMs: 300,
    });
    expect(summary.allFinal).toBe(false);
    expect(summary.outcomes.failed).toBe(4);
    expect(summary.errors).toEqual({ "failed: deadline": 4 });
  });
});
