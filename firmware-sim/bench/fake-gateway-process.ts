/**
 * The fake gateway (Aedes + auto-responder, no Kubernetes) as its own process, so a fleet
 * bench measures the simulator's process alone and each side gets its own fd budget.
 * Prints one JSON line {url, publicKey (base64), pid} on stdout when listening; stops on SIGTERM.
 *   tsx firmware-sim/bench/fake-gateway-process.ts [--port 1883]
 */
import { startFakeGateway } from "../test/support/fake-gateway.ts";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const gw = await startFakeGateway({ port });
process.stdout.write(
  `${JSON.stringify({ url: gw.url, publicKey: Buffer.from(gw.publicKey).toString("base64"), pid: process.pid })}\n`,
);
const stop = async () => {
  process.stderr.write(`fake gateway: ${JSON.stringify(gw.stats)}\n`);
  await gw.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
