/**
 * Gateway CPU per authenticated CONNECT [PROTO-39] (issue 12 target: <= 0.3 ms).
 *
 *   npx tsx gateway-mqtt/bench/connect.bench.ts          # CONNECTS=2000 by default
 *
 * This process runs the gateway's broker (the real Broker: hooks, proof check, replay
 * memory, session binding; no Kubernetes, which a CONNECT never touches). A child process
 * runs mqtt.js clients that CONNECT with proofs made before the clock starts, CONNECTS/4 at
 * a time, each disconnecting after its CONNACK. The broker's process.cpuUsage() (user +
 * system) over the CONNECT phase, divided by the CONNECTs, is the number. The proof check
 * alone (decode + Ed25519 verify + replay) is timed in-process as well.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  ReplayGuard,
  deviceIdFromPublicKey,
  encodeConnectProofWithNode,
  generateDeviceKeyPair,
  newNonce,
} from "@devreg/protocol";
import mqtt from "mqtt";
import { startBenchBroker } from "./bench-broker.ts";
import { checkConnectProof } from "../src/broker/connect-auth.ts";

const CONNECTS = Number(process.env.CONNECTS ?? 2000);
const PARALLEL = 8;

function proofs(n: number): Array<{ clientId: string; password: Buffer }> {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, () => {
    const keyPair = generateDeviceKeyPair();
    const password = encodeConnectProofWithNode({ keyPair, nonce: newNonce(), timestamp: now });
    return { clientId: deviceIdFromPublicKey(keyPair.publicKey), password: Buffer.from(password) };
  });
}

async function clientMain(port: number): Promise<void> {
  const creds = proofs(CONNECTS);
  process.send?.({ ready: true });
  await new Promise((r) => process.once("message", r));
  let next = 0;
  let refused = 0;
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
        await client.endAsync(true);
      } catch {
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  process.send?.({ done: true, refused });
}

async function main(): Promise<void> {
  const { broker, life } = await startBenchBroker();

  // The proof check alone, in-process.
  const sample = proofs(2000);
  const now = Math.floor(Date.now() / 1000);
  const alone = new ReplayGuard();
  const t0 = process.cpuUsage();
  for (const s of sample)
    checkConnectProof(
      { clientId: s.clientId, username: s.clientId, password: s.password, nowSeconds: now },
      alone,
      undefined,
    );
  const c0 = process.cpuUsage(t0);
  const checkMs = (c0.user + c0.system) / 1000 / sample.length;

  const child = fork(fileURLToPath(import.meta.url), ["client", String(broker.mqttPort)], {
    execArgv: ["--import", "tsx"],
  });
  await new Promise<void>((r) => child.once("message", () => r()));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  child.send("go");
  const result = await new Promise<{ refused: number }>((r) => child.once("message", (m) => r(m as never)));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const perConnectMs = (cpu.user + cpu.system) / 1000 / CONNECTS;
  console.log(
    JSON.stringify({
      connects: CONNECTS,
      refused: result.refused,
      gatewayCpuPerConnectMs: Math.round(perConnectMs * 1000) / 1000,
      proofCheckCpuMs: Math.round(checkMs * 1000) / 1000,
      connectsPerSecond: Math.round((CONNECTS / wall) * 1000),
      node: process.version,
    }),
  );
  child.kill();
  await life.stop();
}

if (process.argv[2] === "client") void clientMain(Number(process.argv[3]));
else void main();
