/**
 * Runs one devreg component in its own process for the bench, when the devreg CLI has no
 * subcommand for it: `component-main.ts gateway|operator '<options JSON>'`. Prints one
 * line `devreg-bench-ready {json}` when it serves, and stops cleanly on SIGTERM.
 */
import { startGateway } from "@devreg/gateway-mqtt";
import { startOperator } from "@devreg/operator";

export const READY_PREFIX = "devreg-bench-ready ";

async function main(): Promise<void> {
  const [kind, json] = process.argv.slice(2);
  const options = JSON.parse(json ?? "{}") as Record<string, unknown>;
  let stop: () => Promise<void>;
  if (kind === "gateway") {
    const gw = await startGateway(options);
    stop = () => gw.stop();
    const ready = {
      mqttPort: gw.mqttPort,
      httpPort: gw.httpPort,
      adminPort: gw.adminPort,
      publicKey: Buffer.from(gw.publicKey).toString("base64"),
    };
    process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`);
  } else if (kind === "operator") {
    const op = await startOperator(options);
    await op.waitForLeadership(30_000);
    stop = () => op.stop();
    process.stdout.write(`${READY_PREFIX}${JSON.stringify({ httpPort: op.httpPort })}\n`);
  } else {
    process.stderr.write("usage: component-main.ts gateway|operator '<options JSON>'\n");
    process.exit(2);
  }
  const onSignal = () => {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}

main().catch((e: unknown) => {
  process.stderr.write(`component failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
