/**
 * Quick latency check for issue 5 (the bench issue measures formally):
 *   bare apiserver create + status-patch median   vs   MQTT publish → signed reply median
 * on a private local control plane, with the real operator and pairing on, at a light
 * arrival rate (default 20 req/s, 200 devices).
 *
 *   npm run bench -w @devreg/gateway-mqtt            # or: npx tsx gateway-mqtt/bench/latency.bench.ts
 *   DEVICES=200 RATE=20 npm run bench -w @devreg/gateway-mqtt
 *
 * Noisy on a shared 2-core box: compare medians from the same run, not across runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KubeRest,
  Registrations,
  clusterDown,
  clusterUp,
  ensureNamespace,
  installCrds,
  resolveKubeConfig,
} from "@devreg/kube";
import { setPairing, startOperator } from "@devreg/operator";
import {
  deviceIdFromPublicKey,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  replyTopic,
  requestTopic,
  verifyEnrollReply,
} from "@devreg/protocol";
import mqtt, { type MqttClient } from "mqtt";
import { pino } from "pino";
import { startGateway } from "../src/index.ts";

const DEVICES = Number(process.env.DEVICES ?? 200);
const RATE = Number(process.env.RATE ?? 20);
const WARMUP = 20;

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stats(xs: number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] ?? Number.NaN };
}
const fmt = (st: ReturnType<typeof stats>) =>
  `n=${st.n} p50=${st.p50.toFixed(2)} ms p90=${st.p90.toFixed(2)} ms p99=${st.p99.toFixed(2)} ms max=${st.max.toFixed(2)} ms`;

/** Runs `fn(i)` for i < n, starting one every 1000/rate ms (open loop), and waits for all. */
async function paced(n: number, rate: number, fn: (i: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    running.push(fn(i));
  }
  await Promise.all(running);
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), "devreg-gw-bench-"));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    log(`starting a private control plane in ${stateDir}`);
    const st = await clusterUp({ stateDir, log: (l) => log(l) });
    cleanups.push(() => clusterDown({ stateDir }));
    const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(st.kubeconfig).kc);
    cleanups.push(() => rest.close());
    await installCrds(rest);
    const ns = `gw-bench-${Date.now().toString(36)}`;
    await ensureNamespace(rest, ns);
    // The bare baseline gets its own namespace, so the operator never reconciles those objects.
    const bareNs = `${ns}-bare`;
    await ensureNamespace(rest, bareNs);
    const regs = new Registrations(rest, bareNs);

    // 1. The apiserver's own cost: create + status patch, same rate, same object shape.
    const bare: number[] = [];
    const uuid = "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f";
    await paced(WARMUP + DEVICES, RATE, async (i) => {
      const kp = generateDeviceKeyPair();
      const id = deviceIdFromPublicKey(kp.publicKey);
      const t = performance.now();
      await regs.create({
        metadata: { name: `bare-${id}`, labels: { "devices.example.com/gateway": "bench-bare" } },
        spec: {
          publicKey: Buffer.from(kp.publicKey).toString("base64"),
          deviceId: id,
          model: "bench",
          firmwareVersion: "1.0.0",
        },
      });
      await regs.patchStatus(`bare-${id}`, { phase: "Approved", deviceUUID: uuid });
      if (i >= WARMUP) bare.push(performance.now() - t);
    });
    log(`bare create+status-patch: ${fmt(stats(bare))}`);

    // 2. The real thing: operator (pairing on) + gateway, devices over MQTT.
    const op = await startOperator({
      kubeconfig: st.kubeconfig,
      namespace: ns,
      httpPort: 0,
      identity: "bench-op",
      logger: pino({ level: "warn", name: "devreg-operator" }, pino.destination(2)),
    });
    cleanups.push(() => op.stop());
    await op.waitForLeadership(30_000);
    await setPairing(rest, ns, { enabled: true });
    const gw = await startGateway({
      kubeconfig: st.kubeconfig,
      namespace: ns,
      gatewayId: "bench-gw",
      mqtt: { host: "127.0.0.1", port: 0 },
      http: false,
      admin: { host: "127.0.0.1", port: 0 },
      logger: pino({ level: "warn" }, pino.destination(2)),
    });
    cleanups.push(() => gw.stop());

    const total = WARMUP + DEVICES;
    log(`connecting ${total} devices`);
    const devices: Array<{
      kp: ReturnType<typeof generateDeviceKeyPair>;
      id: string;
      client: MqttClient;
      waiting?: (b: Buffer) => void;
    }> = [];
    for (let i = 0; i < total; i++) {
      const kp = generateDeviceKeyPair();
      const id = deviceIdFromPublicKey(kp.publicKey);
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
        clientId: id,
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      const dev = { kp, id, client } as (typeof devices)[number];
      client.on("message", (_t, payload) => dev.waiting?.(payload));
      await client.subscribeAsync(replyTopic(id), { qos: 1 });
      devices.push(dev);
      cleanups.push(() => client.endAsync(true));
    }

    const e2e: number[] = [];
    const statuses = new Map<string, number>();
    await paced(total, RATE, async (i) => {
      const dev = devices[i]!;
      const requestId = newRequestId();
      const frame = encodeEnrollRequest({
        keyPair: dev.kp,
        requestId,
        nonce: newNonce(),
        timestamp: Math.floor(Date.now() / 1000),
        metadata: { model: "bench", firmwareVersion: "1.0.0" },
      });
      const got = new Promise<Buffer>((r) => {
        dev.waiting = r;
      });
      const t = performance.now();
      dev.client.publish(requestTopic(dev.id), Buffer.from(frame), { qos: 1 });
      const reply = await got;
      const ms = performance.now() - t;
      const v = verifyEnrollReply(new Uint8Array(reply), gw.publicKey, { deviceId: dev.id, requestId });
      const status = v.ok ? v.value.status : `invalid:${v.error.code}`;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (i >= WARMUP) e2e.push(ms);
    });
    const b = stats(bare);
    const g = stats(e2e);
    log(`publish→reply:            ${fmt(g)}`);
    log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    const delta = g.p50 - b.p50;
    const verdict = delta <= 10 ? "OK" : "OVER";
    process.stdout.write(
      `${JSON.stringify({ devices: DEVICES, ratePerSecond: RATE, bareCreatePatch: b, publishToReply: g, medianOverheadMs: Number(delta.toFixed(2)), target: "<= 10 ms", verdict })}\n`,
    );
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
