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
import { replyTopic, requestTopic } from "@devreg/protocol";
import { fleetMain, measureFleet, startBenchBroker } from "./bench-support.ts";

const SESSIONS = Number(process.env.SESSIONS ?? 4000);
const PARALLEL = Number(process.env.PARALLEL ?? 16);
const REQUEST = Buffer.alloc(300, 7);
const REPLY = new Uint8Array(200).fill(9);

async function main(): Promise<void> {
  const { broker, life } = await startBenchBroker();
  let answered = 0;
  broker.on("request", (client) => {
    answered++;
    void broker.publishReply(client.id, REPLY);
  });
  const { failed, cpuMs, wallMs } = await measureFleet(import.meta.url, broker.mqttPort);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  console.log(
    JSON.stringify({
      sessions: SESSIONS,
      failed,
      answered,
      gatewayCpuPerSessionMs: round(cpuMs / SESSIONS),
      sessionsPerSecond: Math.round((SESSIONS / wallMs) * 1000),
      node: process.version,
    }),
  );
  await life.stop();
}

if (process.argv[2] === "client")
  void fleetMain(Number(process.argv[3]), SESSIONS, PARALLEL, async (client, id) => {
    const replied = new Promise<void>((r) => client.once("message", () => r()));
    await client.subscribeAsync(replyTopic(id), { qos: 1 });
    await client.publishAsync(requestTopic(id), REQUEST, { qos: 1 });
    await replied;
    await client.endAsync();
  });
else void main();
