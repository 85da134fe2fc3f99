import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Child, startChild } from "./child-process.ts";

const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const TSX_LOADER = join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs");
const COMPONENT_MAIN = fileURLToPath(new URL("./component-main.ts", import.meta.url));
const READY_PREFIX = "devreg-bench-ready ";

export interface ComponentEnv {
  kubeconfig: string;
  namespace: string;
  /** Logs and the gateway key live here. */
  workDir: string;
  /** Extra node flags for the child, e.g. ["--cpu-prof"] when profiling. */
  nodeFlags?: string[];
}

export interface GatewayProcess {
  child: Child;
  mqttUrl: string;
  httpPort?: number;
  publicKey: Uint8Array;
}

/**
 * Per-address limits raised for the bench only: every simulated device connects from
 * 127.0.0.1, which the gateway's defaults (100 connects/s per address) rightly treat as one
 * abusive host. Global limits (connects, publishes, Kubernetes writes) stay at their defaults.
 */
export const BENCH_GATEWAY_LIMITS = {
  connectPerAddress: { ratePerSecond: 100_000, burst: 100_000 },
  httpPerAddress: { ratePerSecond: 100_000, burst: 100_000 },
};

function nodeArgs(env: ComponentEnv, kind: string, options: unknown): string[] {
  return [
    ...(env.nodeFlags ?? []),
    "--enable-source-maps",
    "--import",
    `file://${TSX_LOADER}`,
    COMPONENT_MAIN,
    kind,
    JSON.stringify(options),
  ];
}

function readyJson<T>(line: string): T | undefined {
  const at = line.indexOf(READY_PREFIX);
  return at < 0 ? undefined : (JSON.parse(line.slice(at + READY_PREFIX.length)) as T);
}

export async function startGatewayProcess(env: ComponentEnv, logName = "gateway"): Promise<GatewayProcess> {
  const options = {
    kubeconfig: env.kubeconfig,
    namespace: env.namespace,
    mqtt: { host: "127.0.0.1", port: 0 },
    http: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    keyFile: join(env.workDir, "gateway-key.pem"),
    limits: BENCH_GATEWAY_LIMITS,
  };
  const { child, info } = await startChild({
    name: "gateway",
    command: process.execPath,
    args: nodeArgs(env, "gateway", options),
    ready: (l) => readyJson<{ mqttPort: number; httpPort?: number; publicKey: string }>(l),
    timeoutMs: 60_000,
    logFile: join(env.workDir, `${logName}.log`),
  });
  return {
    child,
    mqttUrl: `mqtt://127.0.0.1:${info.mqttPort}`,
    httpPort: info.httpPort,
    publicKey: new Uint8Array(Buffer.from(info.publicKey, "base64")),
  };
}

export async function startOperatorProcess(env: ComponentEnv): Promise<Child> {
  const options = {
    kubeconfig: env.kubeconfig,
    namespace: env.namespace,
    httpPort: 0,
    httpHost: "127.0.0.1",
    // A fresh namespace has no lease holder: no need to wait out a previous one.
    leaseDurationMs: 15_000,
  };
  const { child } = await startChild({
    name: "operator",
    command: process.execPath,
    args: nodeArgs(env, "operator", options),
    ready: (l) => readyJson<{ httpPort: number }>(l),
    timeoutMs: 60_000,
    logFile: join(env.workDir, "operator.log"),
  });
  return child;
}
