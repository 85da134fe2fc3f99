import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { defaultGatewayId, type GatewayOptions, isGatewayError, startGateway } from "@devreg/gateway-mqtt";
import type { DevregEnv } from "@devreg/runtime";
import { type Command, Option } from "commander";
import { load as loadYaml } from "js-yaml";
import { UsageError } from "../errors.ts";
import { componentKubeconfigFor, defaultNamespace, givenKubeconfig } from "../kube-connect.ts";
import { parseDurationMs, port, positive } from "../options.ts";
import { progress } from "../output.ts";
import { untilSignal } from "../until-signal.ts";

function defaultKeyFile(): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "devreg", "gateway", "key.pem");
}

interface GatewayCliOptions {
  namespace: string;
  gatewayId: string;
  host: string;
  mqttPort: number;
  wsPort?: number;
  wsPath: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  httpPort: number;
  http: boolean;
  adminPort: number;
  adminHost: string;
  keyFile: string;
  /** Milliseconds. */
  decisionTimeout: number;
  maxWrites: number;
  config?: string;
  logLevel?: string;
}

/**
 * --config: every setting the gateway has (its limits, timeouts) without one flag each. The
 * file is read once here; the gateway validates the merged options (E_GW_CONFIG names each
 * bad field).
 */
function readConfigFile(path: string): Partial<GatewayOptions> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch (e) {
    throw new UsageError(`--config: ${path} is not YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new UsageError(`--config: ${path} must hold a mapping of settings`);
  }
  return doc as Partial<GatewayOptions>;
}

/** The GatewayOptions the flags set; a flag left undefined sets nothing (so a merge keeps what is under it). */
function gatewayOptionsFrom(o: Partial<GatewayCliOptions>): GatewayOptions {
  return {
    namespace: o.namespace,
    gatewayId: o.gatewayId,
    mqtt: { host: o.host, port: o.mqttPort },
    ws: o.wsPort !== undefined ? { host: o.host, port: o.wsPort, path: o.wsPath } : undefined,
    tls: o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa } : undefined,
    http: o.http === undefined ? undefined : o.http ? { host: o.host, port: o.httpPort } : false,
    admin: { host: o.adminHost, port: o.adminPort },
    keyFile: o.keyFile,
    decisionTimeoutMs: o.decisionTimeout,
    limits: { maxKubeWritesInFlight: o.maxWrites === undefined ? undefined : Math.floor(o.maxWrites) },
    logLevel: o.logLevel as GatewayOptions["logLevel"],
  } as GatewayOptions;
}

/** Nested merge of plain objects: flags (b) over the file (a). */
function mergeSettings<T>(a: T, b: T): T {
  if (
    a === null ||
    b === null ||
    typeof a !== "object" ||
    typeof b !== "object" ||
    Array.isArray(a) ||
    Array.isArray(b)
  ) {
    return b === undefined ? a : b;
  }
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (v !== undefined) out[k] = mergeSettings(out[k], v);
  }
  return out as T;
}

/** `devreg gateway`: runs the MQTT/HTTP enrollment gateway until SIGINT/SIGTERM. */
export function registerGateway(program: Command, env: DevregEnv): void {
  program
    .command("gateway")
    .description(
      "run the enrollment gateway (MQTT broker + HTTP) in the foreground; prints its public key for devices to pin",
    )
    .option("--namespace <ns>", "namespace of the DeviceRegistrations", defaultNamespace(env))
    .option(
      "--gateway-id <id>",
      "this replica's id (label value; default: host/pod name)",
      process.env.POD_NAME ?? defaultGatewayId(),
    )
    .option("--host <addr>", "address every listener binds", "0.0.0.0")
    .option(
      "--mqtt-port <port>",
      "MQTT 3.1.1 port (TLS when --tls-cert/--tls-key are given)",
      port("--mqtt-port"),
      1883,
    )
    .option("--ws-port <port>", "also serve MQTT over WebSocket on this port", port("--ws-port"))
    .option("--ws-path <path>", "WebSocket path", "/mqtt")
    .option("--tls-cert <file>", "PEM certificate for MQTT (and WebSocket)")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option("--tls-ca <file>", "PEM CA bundle to send along")
    .option("--http-port <port>", "HTTP POST /enroll port", port("--http-port"), 8080)
    .option("--no-http", "do not serve HTTP enrollment")
    .option("--admin-port <port>", "/healthz, /readyz and /metrics port", port("--admin-port"), 9090)
    .option(
      "--admin-host <addr>",
      "address the admin port binds (loopback by default; 0.0.0.0 for kubelet probes and scraping)",
      "127.0.0.1",
    )
    .option(
      "--key-file <file>",
      "gateway signing key (PEM); generated (0600) when missing",
      process.env.DEVREG_GATEWAY_KEY_FILE ?? defaultKeyFile(),
    )
    .addOption(
      new Option(
        "--decision-timeout <duration>",
        "wait this long for the operator before answering pending (e.g. 10s, 1500ms; bare seconds)",
      )
        .argParser((v) => parseDurationMs(v, "--decision-timeout"))
        .default(10_000, "10s"),
    )
    .option(
      "--max-writes <n>",
      "Kubernetes writes in flight before devices are told busy",
      positive("--max-writes"),
      32,
    )
    .option(
      "--config <file>",
      'YAML or JSON file of further gateway settings (limits, mqtt and http timeouts; see gateway-mqtt/README.md "Options"); flags win',
    )
    .option(
      "--log-level <level>",
      "fatal|error|warn|info|debug|trace|silent (default: $LOG_LEVEL, else info)",
    )
    .action(async (o: GatewayCliOptions, cmd: Command) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
        throw new UsageError("--tls-cert and --tls-key go together");
      const fromFlags = gatewayOptionsFrom({ ...o, logLevel: o.logLevel ?? env.logLevel ?? "info" });
      let opts: GatewayOptions = fromFlags;
      if (o.config) {
        // defaults < the file < flags given on the command line (or by environment).
        const given = Object.fromEntries(
          Object.entries(o).filter(([k]) => ["cli", "env"].includes(cmd.getOptionValueSource(k) ?? "")),
        ) as Partial<GatewayCliOptions>;
        opts = mergeSettings(
          mergeSettings(fromFlags, readConfigFile(o.config) as GatewayOptions),
          gatewayOptionsFrom(given),
        );
      }
      opts.kubeconfig = await componentKubeconfigFor(
        givenKubeconfig(cmd, env),
        "gateway",
        opts.namespace ?? o.namespace,
      );
      opts.logStream = "stderr"; // stdout carries only the public key
      let gw: Awaited<ReturnType<typeof startGateway>>;
      try {
        gw = await startGateway(opts, env);
      } catch (e) {
        // A bad setting (flag or --config) is a usage error, like the operator's E_CONFIG.
        if (isGatewayError(e, "E_GW_CONFIG")) throw new UsageError(e.message);
        throw e;
      }
      progress(
        `gateway ${gw.gatewayId} serving namespace ${gw.namespace}: mqtt :${gw.mqttPort}` +
          (gw.wsPort !== undefined ? `, ws :${gw.wsPort}` : "") +
          (gw.httpPort !== undefined ? `, http :${gw.httpPort}` : "") +
          `, admin :${gw.adminPort}; key ${o.keyFile}`,
      );
      progress("gateway public key (base64; pin it on devices):");
      process.stdout.write(`${Buffer.from(gw.publicKey).toString("base64")}\n`);
      await untilSignal("the gateway", () => gw.stop());
    });
}
