import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createGatewaySigner,
  encodeEnrollReply,
  PROTOCOL_VERSION,
  type ProtocolError,
} from "@devreg/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { approveAll, type FakeGateway, startFakeGateway, uuidFor } from "../test/support/fake-gateway.ts";
import { nodeCrypto } from "./device-crypto.ts";
import { createIdentity } from "./identity.ts";
import { VirtualMcu, type VirtualMcuOptions } from "./virtual-mcu.ts";

let dir: string;
let gateway: FakeGateway | undefined;
const devices: VirtualMcu[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fsim-mcu-"));
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await gateway?.close();
  gateway = undefined;
  await rm(dir, { recursive: true, force: true });
});

function mcu(
  opts: Partial<VirtualMcuOptions> & { gatewayPublicKey: Uint8Array; mqttUrl: string },
): VirtualMcu {
  const d = new VirtualMcu({ identity: createIdentity(nodeCrypto), ...opts });
  devices.push(d);
  return d;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("VirtualMcu against a real broker", () => {
  for (const crypto of ["tweetnacl", "node"] as const) {
    it(`enrolls with the ${crypto} backend and a reboot keeps key and UUID`, async () => {
      gateway = await startFakeGateway();
      const identityPath = join(dir, "flash.json");
      const opts = {
        mqttUrl: gateway.url,
        gatewayPublicKey: gateway.publicKey,
        identityPath,
        crypto,
        metadata: { model: "thermo-9", firmwareVersion: "2.0.1", hardwareRevision: "B" },
      };
      const first = mcu({ ...opts, identity: undefined });
      const outcome = await first.start();
      expect(outcome).toMatchObject({ phase: "enrolled", deviceUUID: uuidFor(first.deviceId!) });
      expect(outcome.replyLatencyMs).toBeGreaterThanOrEqual(0);
      expect(gateway.lastRequest.get(first.deviceId!)?.metadata).toEqual(opts.metadata);
      await first.stop();

      const rebooted = mcu({ ...opts, identity: undefined });
      const again = await rebooted.start();
      expect(rebooted.deviceId).toBe(first.deviceId);
      expect(rebooted.identity?.deviceUUID).toBe(outcome.deviceUUID); // read back from flash before enrolling
      expect(again).toMatchObject({ phase: "enrolled", deviceUUID: outcome.deviceUUID });
    });
  }

  it("refuses a forged reply and an unsigned one, ignores one for another requestId, then enrolls", async () => {
    gateway = await startFakeGateway({ decide: () => "drop" });
    const g = gateway;
    const d = mcu({ mqttUrl: g.url, gatewayPublicKey: g.publicKey });
    const refused: ProtocolError[] = [];
    d.on("reply-refused", (e) => refused.push(e));
    void d.start();
    const [requestId] = (await once(d, "published")) as [string];
    const deviceId = d.deviceId!;
    const reply = { version: PROTOCOL_VERSION, deviceId, timestamp: Math.floor(Date.now() / 1000) };
    const forged = encodeEnrollReply(
      { ...reply, requestId, status: "approved", deviceUUID: uuidFor("f".repeat(32)) },
      createGatewaySigner(),
    );
    await g.inject(deviceId, forged);
    await g.inject(deviceId, new TextEncoder().encode(`{"requestId":"${requestId}","status":"approved"}`));
    await g.reply(deviceId, { requestId: "not-mine", status: "approved", deviceUUID: uuidFor(deviceId) });
    await vi.waitFor(() => expect(d.state.counters.ignoredReplies).toBe(1));
    expect(refused.map((e) => e.code)).toEqual(["E_BAD_SIGNATURE", "E_MALFORMED_CBOR"]);
    expect(d.state).toMatchObject({ phase: "enrolling", requestId });
    expect(d.state.counters.refusedReplies).toBe(2);

    await g.reply(deviceId, { requestId, status: "approved", deviceUUID: uuidFor(deviceId) });
    await vi.waitFor(() => expect(d.state.phase).toBe("enrolled"));
    expect(d.state.deviceUUID).toBe(uuidFor(deviceId));
  });

  it("with the wrong pinned key never enrolls and gives up at the deadline", async () => {
    gateway = await startFakeGateway();
    const d = mcu({
      mqttUrl: gateway.url,
      gatewayPublicKey: createGatewaySigner().publicKey,
      deadlineMs: 1500,
      // A refused reply is not an answer: only the reply timeout moves the device on.
      retry: { replyTimeoutMs: 200, retryDelaySeconds: () => 0.1 },
    });
    const outcome = await d.start();
    expect(outcome).toMatchObject({
      phase: "failed",
      reason: "deadline",
      lastError: "refused-reply:E_BAD_SIGNATURE",
    });
    expect(outcome.counters.refusedReplies).toBeGreaterThan(1);
    expect(outcome.counters.verifiedReplies).toBe(0);
  });

  it("keeps retrying an unreachable gateway with backoff, then fails with the connect error", async () => {
    const port = await closedPort();
    const d = mcu({
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      gatewayPublicKey: createGatewaySigner().publicKey,
      deadlineMs: 1200,
      retry: { reconnectBaseMs: 100, reconnectCapMs: 200 },
    });
    const outcome = await d.start();
    expect(outcome).toMatchObject({ phase: "failed", reason: "deadline", lastError: "ECONNREFUSED" });
    expect(outcome.counters.connectFailures).toBeGreaterThanOrEqual(3);
  });

  it("reconnects after the broker drops it and enrolls with a new request", async () => {
    let dropped = false;
    gateway = await startFakeGateway({
      decide: (req, { attempt }) => {
        if (attempt > 0) return approveAll(req, { attempt });
        dropped = true;
        // Kick the device right after its first request, as a restarting gateway would.
        const clients = (gateway!.broker as unknown as { clients: Record<string, { close(): void }> })
          .clients;
        setImmediate(() => clients[req.deviceId]?.close());
        return "drop";
      },
    });
    const d = mcu({
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      retry: { reconnectBaseMs: 50 },
    });
    const outcome = await d.start();
    expect(dropped).toBe(true);
    expect(outcome).toMatchObject({ phase: "enrolled" });
    expect(outcome.counters).toMatchObject({ disconnects: 1, requests: 2 });
  });

  it("becomes deactivated on an unsolicited push after enrolling", async () => {
    gateway = await startFakeGateway();
    const d = mcu({ mqttUrl: gateway.url, gatewayPublicKey: gateway.publicKey });
    const enrolled = await d.start();
    const final = once(d, "final");
    // The gateway's push form: the codec allows requestId "" only on error replies.
    await gateway.reply(d.deviceId!, {
      requestId: "",
      status: "error",
      reason: "Deactivated",
      deviceUUID: enrolled.deviceUUID!,
    });
    const [outcome] = await final;
    expect(outcome).toMatchObject({ phase: "deactivated" });
  });

  it("rejects start() with a typed error for a corrupt identity file", async () => {
    const identityPath = join(dir, "flash.json");
    await writeFile(identityPath, "{ not json");
    const d = new VirtualMcu({
      mqttUrl: "mqtt://127.0.0.1:1",
      gatewayPublicKey: new Uint8Array(32),
      identityPath,
    });
    devices.push(d);
    await expect(d.start()).rejects.toMatchObject({ code: "E_IDENTITY_CORRUPT" });
    expect(d.state).toMatchObject({ phase: "failed", reason: "identity" });
  });

  it("fails fast with E_BAD_OPTION for metadata the codec refuses", async () => {
    gateway = await startFakeGateway();
    const d = mcu({
      mqttUrl: gateway.url,
      gatewayPublicKey: gateway.publicKey,
      metadata: { model: "", firmwareVersion: "1" },
    });
    await expect(d.start()).rejects.toMatchObject({ code: "E_BAD_OPTION" });
  });
});

describe("VirtualMcu timing (fake timers)", () => {
  it("waits out retry-after on busy before the next request, and the reply timeout when silent", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    gateway = await startFakeGateway({
      decide: (req, { attempt }) =>
        attempt === 0
          ? { status: "busy", retryAfterSeconds: 30 }
          : attempt === 1
            ? "drop"
            : approveAll(req, { attempt }),
    });
    const d = mcu({ mqttUrl: gateway.url, gatewayPublicKey: gateway.publicKey, random: () => 0 });
    const published: number[] = [];
    d.on("published", () => published.push(Date.now()));
    const done = d.start();
    await vi.waitFor(() => expect(d.state.phase).toBe("waiting"), { interval: 5 });
    const t0 = published[0]!;
    expect(d.state.wakeAt! - Date.now()).toBeLessThanOrEqual(30_000);

    await vi.advanceTimersByTimeAsync(29_000);
    expect(published).toHaveLength(1); // busy: no request before retry-after
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.waitFor(() => expect(published).toHaveLength(2), { interval: 5 });
    expect(published[1]! - t0).toBeGreaterThanOrEqual(30_000);

    // The second request (attempt 1) is dropped: nothing until the 30 s reply timeout,
    // then the protocol's timeout backoff for attempt 1 (5 s * 2^1).
    await vi.waitFor(() => expect(gateway!.stats.requests).toBe(2), { interval: 5 });
    await vi.advanceTimersByTimeAsync(39_800);
    expect(published).toHaveLength(2);
    expect(d.state).toMatchObject({ phase: "waiting", lastError: "reply-timeout" });
    await vi.advanceTimersByTimeAsync(300);
    await vi.waitFor(() => expect(published).toHaveLength(3), { interval: 5 });
    expect(published[2]! - published[1]!).toBeGreaterThanOrEqual(40_000);
    expect(await done).toMatchObject({ phase: "enrolled", counters: { replyTimeouts: 1, requests: 3 } });
  });
});
