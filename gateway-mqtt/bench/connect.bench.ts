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
import { ReplayGuard } from "@devreg/protocol";
import { fleetMain, measureFleet, provenCredentials, startBenchBroker } from "./bench-support.ts";
import { checkConnectProof } from "../src/broker/connect-auth.ts";

const CONNECTS = Number(process.env.CONNECTS ?? 2000);
const PARALLEL = 8;

async function main(): Promise<void> {
  const { broker, life } = await startBenchBroker();

  // The proof check alone, in-process.
  const sample = provenCredentials(2000);
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

  const { failed: refused, cpuMs, wallMs: wall } = await measureFleet(import.meta.url, broker.mqttPort);
  const perConnectMs = cpuMs / CONNECTS;
  console.log(
    JSON.stringify({
      connects: CONNECTS,
      refused,
      gatewayCpuPerConnectMs: Math.round(perConnectMs * 1000) / 1000,
      proofCheckCpuMs: Math.round(checkMs * 1000) / 1000,
      connectsPerSecond: Math.round((CONNECTS / wall) * 1000),
      node: process.version,
    }),
  );
  await life.stop();
}

if (process.argv[2] === "client")
  void fleetMain(Number(process.argv[3]), CONNECTS, PARALLEL, (client) => client.endAsync(true));
else void main();
