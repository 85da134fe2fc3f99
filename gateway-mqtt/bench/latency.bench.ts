/**
 * Quick latency check for issue 5 (the bench issue measures formally):
 *   bare apiserver create + status-patch median   vs   MQTT publish → signed reply median
 * on a private local control plane, with the real operator and pairing on, at a light
 * arrival rate (default 20 req/s, 200 devices after 20 warm-up ones).
 *
 *   npm run bench -w @devreg/gateway-mqtt            # or: npx tsx gateway-mqtt/bench/latency.bench.ts
 *   DEVICES=200 RATE=20 npm run bench -w @devreg/gateway-mqtt
 *
 * The gateway and the operator run in their own processes (as deployed); this process
 * holds the devices, the bare baseline client and a watch for the breakdown. Bare pairs and
 * enrolls are interleaved (half a period apart) so both see the same machine load — this
 * box is shared, so compare medians from one run, not across runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type DeviceRegistration,
  Informer,
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
  encodeConnectProof,
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
import { sleep } from "@devreg/runtime";
import { startGateway } from "../src/index.ts";

const DEVICES = Number(process.env.DEVICES ?? 200);
const RATE = Number(process.env.RATE ?? 20);
const WARMUP = 20;

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

type Stats = { n: number; p50: number; p90: number; p99: number; max: number };
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p90: r(q(0.9)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1] ?? Number.NaN),
  };
}
const fmt = (st: Stats) => `n=${st.n} p50=${st.p50} ms p90=${st.p90} ms p99=${st.p99} ms max=${st.max} ms`;

/** Child mode: run one component and print one JSON line when it is up. */
async function child(kind: string, json: string): Promise<void> {
  const o = JSON.parse(json) as { kubeconfig: string; namespace: string };
  const logger = pino({ level: "warn", name: `bench-${kind}` }, pino.destination(2));
  let stop: () => Promise<unknown>;
  if (kind === "operator") {
    const op = await startOperator({ ...o, httpPort: 0, identity: "bench-op", logger });
    await op.waitForLeadership(30_000);
    stop = () => op.stop();
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  } else {
    const gw = await startGateway({
      ...o,
      gatewayId: "bench-gw",
      mqtt: { host: "127.0.0.1", port: 0 },
      http: false,
      admin: { host: "127.0.0.1", port: 0 },
      key: new Uint8Array(32).fill(7),
      logger,
    });
    stop = () => gw.stop();
    process.stdout.write(
      `${JSON.stringify({ ready: true, mqttPort: gw.mqttPort, publicKey: Buffer.from(gw.publicKey).toString("base64") })}\n`,
    );
  }
  process.once("SIGTERM", () => void stop().then(() => process.exit(0)));
}

function spawnChild(
  kind: string,
  opts: object,
): Promise<{ proc: ChildProcess; info: { mqttPort?: number; publicKey?: string } }> {
  const tsx = fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url));
  const proc = spawn(
    process.execPath,
    ["--import", `file://${tsx}`, fileURLToPath(import.meta.url), "--child", kind, JSON.stringify(opts)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`${kind} exited (${code}) before it was ready`)));
    createInterface({ input: proc.stdout! }).once("line", (line) =>
      resolve({ proc, info: JSON.parse(line) }),
    );
  });
}

function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    proc.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}

/** Runs `fn(i)` for i < n, starting one every 1000/rate ms plus `offsetMs` (open loop). */
async function paced(
  n: number,
  rate: number,
  offsetMs: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  const t0 = performance.now() + offsetMs;
  const running: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
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
    const bareRegs = new Registrations(rest, bareNs);

    await setPairing(rest, ns, { enabled: true });
    const comp = { kubeconfig: st.kubeconfig, namespace: ns };
    const op = await spawnChild("operator", comp);
    cleanups.push(() => stopChild(op.proc));
    const gw = await spawnChild("gateway", comp);
    cleanups.push(() => stopChild(gw.proc));
    const gwKey = new Uint8Array(Buffer.from(gw.info.publicKey!, "base64"));

    const total = WARMUP + DEVICES;
    log(`connecting ${total} devices`);
    type Dev = {
      kp: ReturnType<typeof generateDeviceKeyPair>;
      id: string;
      client: MqttClient;
      waiting?: (b: Buffer) => void;
    };
    const devices: Dev[] = [];
    for (let i = 0; i < total; i++) {
      const kp = generateDeviceKeyPair();
      const id = deviceIdFromPublicKey(kp.publicKey);
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.info.mqttPort}`, {
        clientId: id,
        // [PROTO-37] username = device id, password = a fresh connect proof.
        username: id,
        password: Buffer.from(
          encodeConnectProof({ keyPair: kp, nonce: newNonce(), timestamp: Math.floor(Date.now() / 1000) }),
        ),
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      const dev: Dev = { kp, id, client };
      client.on("message", (_t, payload) => dev.waiting?.(payload));
      await client.subscribeAsync(replyTopic(id), { qos: 1 });
      devices.push(dev);
      cleanups.push(() => client.endAsync(true));
    }

    // Breakdown: when this process's own watch sees each registration created and decided.
    const seen = new Map<string, { added?: number; decided?: number }>();
    const watcher = new Informer<DeviceRegistration>(rest, {
      path: new Registrations(rest, ns).collectionPath(),
    });
    const note = (r: DeviceRegistration) => {
      const e = seen.get(r.metadata.name) ?? {};
      e.added ??= performance.now();
      if (r.status?.phase && r.status.phase !== "Pending") e.decided ??= performance.now();
      seen.set(r.metadata.name, e);
    };
    watcher.on("add", note);
    watcher.on("update", note);
    watcher.on("error", () => {});
    watcher.start();
    await watcher.waitForSync();
    cleanups.push(() => watcher.stop());

    const bare: number[] = [];
    const e2e: number[] = [];
    const published = new Map<string, { at: number; replied: number }>();
    const statuses = new Map<string, number>();
    const uuid = "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f";
    // All device-side crypto (tweetnacl: keys, signatures, reply checks) happens outside the
    // timed loop, so it cannot stall this process's event loop while others are being timed.
    const bareKeys = Array.from({ length: total }, () => {
      const kp = generateDeviceKeyPair();
      return {
        id: deviceIdFromPublicKey(kp.publicKey),
        publicKey: Buffer.from(kp.publicKey).toString("base64"),
      };
    });
    const requests = devices.map((dev) => {
      const requestId = newRequestId();
      const frame = encodeEnrollRequest({
        keyPair: dev.kp,
        requestId,
        nonce: newNonce(),
        timestamp: Math.floor(Date.now() / 1000),
        metadata: { model: "bench", firmwareVersion: "1.0.0" },
      });
      return { requestId, frame };
    });
    const replies: Buffer[] = [];
    log(`${total} bare create+status-patch pairs and ${total} enrolls at ${RATE}/s each, interleaved`);
    await Promise.all([
      paced(total, RATE, 0, async (i) => {
        const { id, publicKey } = bareKeys[i]!;
        const t = performance.now();
        await bareRegs.create({
          metadata: {
            name: `dev-${id}`,
            labels: { "devices.example.com/device-id": id, "devices.example.com/gateway": "bare" },
          },
          spec: { publicKey, deviceId: id, model: "bench", firmwareVersion: "1.0.0" },
        });
        await bareRegs.patchStatus(`dev-${id}`, { phase: "Approved", deviceUUID: uuid });
        if (i >= WARMUP) bare.push(performance.now() - t);
      }),
      paced(total, RATE, 500 / RATE, async (i) => {
        const dev = devices[i]!;
        const { frame } = requests[i]!;
        const got = new Promise<Buffer>((r) => {
          dev.waiting = r;
        });
        const t = performance.now();
        dev.client.publish(requestTopic(dev.id), Buffer.from(frame), { qos: 1 });
        replies[i] = await got;
        const ms = performance.now() - t;
        if (i >= WARMUP) {
          e2e.push(ms);
          published.set(`dev-${dev.id}`, { at: t, replied: t + ms });
        }
      }),
    ]);

    for (let i = 0; i < total; i++) {
      const v = verifyEnrollReply(new Uint8Array(replies[i]!), gwKey, {
        deviceId: devices[i]!.id,
        requestId: requests[i]!.requestId,
      });
      const status = v.ok ? v.value.status : `invalid:${v.error.code}`;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    const toCreate: number[] = [];
    const toDecide: number[] = [];
    const toReply: number[] = [];
    for (const [name, p] of published) {
      const w = seen.get(name);
      if (w?.added === undefined || w.decided === undefined) continue;
      toCreate.push(w.added - p.at);
      toDecide.push(w.decided - w.added);
      toReply.push(p.replied - w.decided);
    }
    const b = stats(bare);
    const g = stats(e2e);
    log(`bare create+status-patch: ${fmt(b)}`);
    log(`publish → reply:          ${fmt(g)}   statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    log(`  publish → created (watch): ${fmt(stats(toCreate))}`);
    log(`  created → decided (watch): ${fmt(stats(toDecide))}   (operator)`);
    log(`  decided → reply received:  ${fmt(stats(toReply))}`);
    const delta = Math.round((g.p50 - b.p50) * 100) / 100;
    process.stdout.write(
      `${JSON.stringify({
        devices: DEVICES,
        ratePerSecond: RATE,
        bareCreatePatch: b,
        publishToReply: g,
        breakdown: {
          publishToCreated: stats(toCreate),
          createdToDecided: stats(toDecide),
          decidedToReply: stats(toReply),
        },
        medianOverheadMs: delta,
        target: "<= 10 ms",
        verdict: delta <= 10 ? "OK" : "OVER",
      })}\n`,
    );
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
    await sleep(500);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") await child(process.argv[3]!, process.argv[4]!);
else await main();
