import { Command, CommanderError } from "commander";
import { registerCluster } from "./commands/cluster.ts";
import { registerGateway } from "./commands/gateway.ts";
import { registerDevices } from "./commands/devices.ts";
import { registerOperator } from "./commands/operator.ts";
import { registerPairing } from "./commands/pairing.ts";
import { registerDemo } from "./commands/demo.ts";
import { registerSim } from "./commands/sim.ts";
import { describeError } from "./errors.ts";

// Exit codes: 0 ok, 1 failure, 2 usage error.
export function buildProgram(): Command {
  const program = new Command("devreg")
    .description("Kubernetes-native enrollment for fleets of IoT devices")
    .option("--kubeconfig <path>", "kubeconfig to use (default: $KUBECONFIG, then the local control plane)")
    .showHelpAfterError()
    .exitOverride();
  registerCluster(program);
  registerGateway(program);
  registerOperator(program);
  registerPairing(program);
  registerDevices(program);
  registerDemo(program);
  registerSim(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`devreg: ${describeError(err)}\n`);
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  }
}

await main(process.argv);
