import { type DevregEnv, readEnv } from "@devreg/runtime";
import { Command, CommanderError } from "commander";
import { describeError } from "./errors.ts";

/** Adds one command; `env` is the environment, read once for the whole process. */
type Register = (program: Command, env: DevregEnv) => void;

/**
 * Commands load on demand: `devreg pairing on` should not load the gateway, the fleet simulator
 * and the operator's metrics just to patch a ConfigMap. Order here is the order in --help.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  cluster: async () => (await import("./commands/cluster.ts")).registerCluster,
  gateway: async () => (await import("./commands/gateway.ts")).registerGateway,
  operator: async () => (await import("./commands/operator.ts")).registerOperator,
  pairing: async () => (await import("./commands/pairing.ts")).registerPairing,
  devices: async () => (await import("./commands/devices.ts")).registerDevices,
  demo: async () => (await import("./commands/demo.ts")).registerDemo,
  sim: async () => (await import("./commands/sim.ts")).registerSim,
  dashboard: async () => (await import("./commands/dashboard.ts")).registerDashboard,
};

/** The command named on the command line (skipping global options), if any. Pure. */
export function commandOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--kubeconfig") i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/** The CLI; with `args` (argv without node and script) only the named command is loaded. */
export async function buildProgram(args?: string[], env: DevregEnv = readEnv()): Promise<Command> {
  const program = new Command("devreg")
    .description("Kubernetes-native enrollment for fleets of IoT devices")
    .option("--kubeconfig <path>", "kubeconfig to use (default: $KUBECONFIG, then the local control plane)")
    .showHelpAfterError()
    .exitOverride();
  const named = args ? commandOf(args) : undefined;
  // No command, or an unknown one: load them all, for --help and commander's suggestions.
  const names = named !== undefined && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const register of await Promise.all(names.map((n) => (COMMANDS[n] as () => Promise<Register>)()))) {
    register(program, env);
  }
  return program;
}

/**
 * Runs `argv` (node, script, args...). Exit codes: 0 ok, 1 failure, 2 usage error (commander's
 * own, or a UsageError from an option's value). Resolves with the code for an error, or
 * undefined when the command ran (it may have set process.exitCode itself).
 */
export async function runCli(argv: string[], env: DevregEnv = readEnv()): Promise<number | undefined> {
  const program = await buildProgram(argv.slice(2), env);
  try {
    await program.parseAsync(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with 0; every other commander error is a usage error it has printed.
      return err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0
        ? 0
        : 2;
    }
    process.stderr.write(`devreg: ${describeError(err)}\n`);
    return (err as { exitCode?: number }).exitCode ?? 1;
  }
}
