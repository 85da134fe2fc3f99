import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  ReplayGuard,
  deviceIdFromPublicKey,
  encodeConnectProofWithNode,
  generateDeviceKeyPair,
  newNonce,
} from "@devreg/protocol";
import { Lifecycle, silentLogger } from "@devreg/runtime";
import mqtt from "mqtt";
import { Broker } from "../src/broker/broker.ts";
import { parseGatewayOptions } from "../src/config.ts";
import { ConnectionLimiter } from "../src/limits/connection-limiter.ts";

/**
 * The gateway's real Broker on a loopback port for the in-process benches, with no Kubernetes
 * behind it and the connect-rate limits opened (the benches measure CPU, not the limits).
 */
export async function startBenchBroker(): Promise<{ broker: Broker; life: Lifecycle }> {
  const cfg = parseGatewayOptions({
    mqtt: { host: "127.0.0.1", port: 0 },
    limits: {
      connectGlobal: { ratePerSecond: 1e6, burst: 1e6 },
      connectPerAddress: { ratePerSecond: 1e6, burst: 1e6 },
    },
  });
  const broker = new Broker({
    cfg,
    log: silentLogger(),
    stopping: () => false,
    refuse: () => {},
    takeover: () => {},
    onClientCount: () => {},
    replay: new ReplayGuard(),
    connections: new ConnectionLimiter(cfg.limits.mqttConnections),
    sessionClosed: () => {},
  });
  const life = new Lifecycle();
  await broker.start(life);
  return { broker, life };
}

export interface DeviceCredentials {
  clientId: string;
  password: Buffer;
}

/** `n` fresh device keys and their CONNECT proofs [PROTO-37], made before any clock starts. */
export function provenCredentials(n: number): DeviceCredentials[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, () => {
    const keyPair = generateDeviceKeyPair();
    const password = encodeConnectProofWithNode({ keyPair, nonce: newNonce(), timestamp: now });
    return { clientId: deviceIdFromPublicKey(keyPair.publicKey), password: Buffer.from(password) };
  });
}

/**
 * The child process's side: `n` devices, `parallel` at a time, each connecting with its proof
 * and then running `session`; reports how many failed to the parent once it says "go".
 */
export async function fleetMain(
  port: number,
  n: number,
  parallel: number,
  session: (client: mqtt.MqttClient, clientId: string) => Promise<void>,
): Promise<void> {
  const creds = provenCredentials(n);
  process.send?.({ ready: true });
  await new Promise((r) => process.once("message", r));
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < creds.length) {
      const c = creds[next++]!;
      try {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          clientId: c.clientId,
          username: c.clientId,
          password: c.password,
          protocolVersion: 4,
          reconnectPeriod: 0,
        });
        await session(client, c.clientId);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  process.send?.({ done: true, failed });
}

/**
 * The parent's side: forks `moduleUrl` as the fleet (argv "client <port>"), and measures this
 * process's CPU (user + system) and the wall time from "go" until the fleet is done.
 */
export async function measureFleet(
  moduleUrl: string,
  port: number,
): Promise<{ failed: number; cpuMs: number; wallMs: number }> {
  const child = fork(fileURLToPath(moduleUrl), ["client", String(port)], { execArgv: ["--import", "tsx"] });
  await new Promise<void>((r) => child.once("message", () => r()));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  child.send("go");
  const result = await new Promise<{ failed: number }>((r) => child.once("message", (m) => r(m as never)));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  child.kill();
  return { failed: result.failed, cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}
