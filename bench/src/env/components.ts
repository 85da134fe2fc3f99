import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Child, startChild } from "./child-process.ts";

const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const DEVREG_BIN = join(REPO_ROOT, "bin", "devreg");

export interface ComponentEnv {
  kubeconfig: string;
  namespace: string;
  /** Logs and the gateway key live here. */
  workDir: string;
  /** Extra node flags for the children, e.g. ["--cpu-prof"] when profiling. */
  nodeFlags?: string[];
  /** A gateway --config file (further settings, e.g. a larger connection cap for the sweep). */
  gatewayConfig?: string;
}

export interface GatewayProcess {
  child: Child;
  mqttUrl: string;
  /** The gateway's /metrics (admin port). */
  metricsUrl: string;
  publicKey: Uint8Array;
}

const TSX_LOADER = join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs");
const CLI_MAIN = join(REPO_ROOT, "cli", "src", "main.ts");

/**
 * `bin/devreg <args>` (it execs node, so the child's pid is node's). Node refuses
 * --cpu-prof in NODE_OPTIONS, so with node flags the child is started as bin/devreg would
 * start it: node --enable-source-maps --import <tsx loader> cli/src/main.ts <args>.
 */
export function devregCommand(env: ComponentEnv, args: string[]): { command: string; args: string[] } {
  const flags = env.nodeFlags ?? [];
  if (flags.length === 0) return { command: DEVREG_BIN, args };
  return {
    command: process.execPath,
    args: [...flags, "--enable-source-maps", "--import", `file://${TSX_LOADER}`, CLI_MAIN, ...args],
  };
}

const SERVING = /serving namespace \S+: mqtt :(\d+).*admin :(\d+)/;
const PUBLIC_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Reads `devreg gateway`'s start-up output: the "serving … mqtt :P … admin :P" progress line,
 * then its public key alone on a line. Pure; returns a function fed one line at a time.
 */
export function gatewayReadyParser(): (
  line: string,
) => { mqttPort: number; adminPort: number; publicKey: string } | undefined {
  let ports: { mqttPort: number; adminPort: number } | undefined;
  return (line) => {
    const m = SERVING.exec(line);
    if (m) ports = { mqttPort: Number(m[1]), adminPort: Number(m[2]) };
    if (ports && PUBLIC_KEY.test(line.trim())) return { ...ports, publicKey: line.trim() };
    return undefined;
  };
}

/**
 * `bin/devreg gateway` with its defaults (limits included), on loopback and free ports.
 * Its limits are the product's; each simulated device connects from a loopback address of
 * its own, so per-address limits apply per device host; the phase report shows any refusals.
 */
export async function startGatewayProcess(env: ComponentEnv, logName = "gateway"): Promise<GatewayProcess> {
  const { child, info } = await startChild({
    name: "gateway",
    ...devregCommand(env, [
      "--kubeconfig",
      env.kubeconfig,
      "gateway",
      "--namespace",
      env.namespace,
      "--host",
      "127.0.0.1",
      "--mqtt-port",
      "0",
      "--http-port",
      "0",
      "--admin-port",
      "0",
      "--key-file",
      join(env.workDir, "gateway-key.pem"),
      ...(env.gatewayConfig ? ["--config", env.gatewayConfig] : []),
    ]),
    ready: gatewayReadyParser(),
    timeoutMs: 60_000,
    logFile: join(env.workDir, `${logName}.log`),
  });
  return {
    child,
    mqttUrl: `mqtt://127.0.0.1:${info.mqttPort}`,
    metricsUrl: `http://127.0.0.1:${info.adminPort}/metrics`,
    publicKey: new Uint8Array(Buffer.from(info.publicKey, "base64")),
  };
}

/** `devreg operator` on loopback and a free probe port, plus `extra` flags. */
export function operatorArgs(env: ComponentEnv, extra: string[] = []): string[] {
  return [
    "--kubeconfig",
    env.kubeconfig,
    "operator",
    "--namespace",
    env.namespace,
    "--http-port",
    "0",
    "--http-host",
    "127.0.0.1",
    ...extra,
  ];
}

/** `bin/devreg operator`, ready once it leads (a fresh namespace has no other lease holder). */
export async function startOperatorProcess(env: ComponentEnv): Promise<Child> {
  const { child } = await startChild({
    name: "operator",
    ...devregCommand(env, operatorArgs(env)),
    ready: (l) => (l.includes('"msg":"became leader"') ? true : undefined),
    timeoutMs: 60_000,
    logFile: join(env.workDir, "operator.log"),
  });
  return child;
}
