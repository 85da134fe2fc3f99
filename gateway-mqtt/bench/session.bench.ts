/**
 * Gateway CPU per MQTT device session, Kubernetes left out (issue 16).
 *
 *   npx tsx gateway-mqtt/bench/session.bench.ts          # SESSIONS=4000 by default
 *
 * This process runs the gateway's real Broker (hooks, CONNECT proof, replay memory, ACLs,
 * session binding, frame guard). A child process runs mqtt.js devices, PARALLEL at a time,
 * each doing what an enrolling device does: CONNECT with a proof, SUBSCRIBE to its reply
 * topic, PUBLISH a QoS 1 request, wait for the reply, DISCONNECT. The broker answers every
 * request at once with a fixed frame through publishReply (no decode, no apiserver), so the
 * number is the MQTT session's cost plus the CONNECT proof: the broker process's
 * process.cpuUsage() (user + system) over the run, divided by the sessions.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  deviceIdFromPublicKey,
  encodeConnectProofWithNode,
  generateDeviceKeyPair,
  newNonce,
  replyTopic,
  requestTopic,
} from "@devreg/protocol";
import mqtt from "mqtt";
import { startBenchBroker } from "./bench-broker.ts";

const SESSIONS = Number(process.env.SESSIONS ?? 4000);
const PARALLEL = Number(process.env.PARALLEL ?? 16);
const REQUEST = Buffer.alloc(300, 7);
const REPLY = new Uint8Array(200).fill(9);

async function clientMain(port: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const creds = Array.from({ length: SESSIONS }, () => {
    const keyPair = generateDeviceKeyPair();
    const password = encodeConnectProofWithNode({ keyPair, nonce: newNonce(), timestamp: now });
    return { id: deviceIdFromPublicKey(keyPair.publicKey), password: Buffer.from(password) };
  });
  process.send?.({ ready: true });
  await new Promise((r) => process.once("message", r));
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < creds.length) {
      const c = creds[next++]!;
      try {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          clientId: c.id,
          username: c.id,
          password: c.password,
          protocolVersion: 4,
          reconnectPeriod: 0,
        });
        const replied = new Promise<void>((r) => client.once("message", () => r()));
        await client.subscribeAsync(replyTopic(c.id), { qos: 1 });
        await client.publishAsync(requestTopic(c.id), REQUEST, { qos: 1 });
        await replied;
        await client.endAsync();
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  process.send?.({ done: true, failed });
}

async function main(): Promise<void> {
  const { broker, life } = await startBenchBroker();
  let answered = 0;
  broker.on("request", (client) => {
    answered++;
    void broker.publishReply(client.id, REPLY);
  });

  const child = fork(fileURLToPath(import.meta.url), ["client", String(broker.mqttPort)], {
    execArgv: ["--import", "tsx"],
  });
  await new Promise<void>((r) => child.once("message", () => r()));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  child.send("go");
  const result = await new Promise<{ failed: number }>((r) => child.once("message", (m) => r(m as never)));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  console.log(
    JSON.stringify({
      sessions: SESSIONS,
      failed: result.failed,
      answered,
      gatewayCpuPerSessionMs: Math.round(((cpu.user + cpu.system) / 1000 / SESSIONS) * 1000) / 1000,
      userMs: Math.round((cpu.user / 1000 / SESSIONS) * 1000) / 1000,
      sessionsPerSecond: Math.round((SESSIONS / wall) * 1000),
      node: process.version,
    }),
  );
  child.kill();
  await life.stop();
}

if (process.argv[2] === "client") void clientMain(Number(process.argv[3]));
else void main();
