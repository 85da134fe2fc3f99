import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterState,
  type ControlPlaneProcess,
  isStillRunning,
  type KubeRest,
  locateProcess,
  type ProcessIdentity,
  Registrations,
} from "@devreg/kube";
import { isRuntimeError, waitFor } from "@devreg/runtime";
import { type Child, startChild } from "../env/child-process.ts";
import { type ComponentEnv, devregCommand, gatewayReadyParser, operatorArgs } from "../env/components.ts";
import { BenchError } from "../errors.ts";

/** Waits until `id` no longer runs (SIGKILL is asynchronous), at most 10 s; then goes on either way. */
async function waitGone(id: ProcessIdentity): Promise<void> {
  await waitFor(() => !isStillRunning(id), { timeoutMs: 10_000, intervalMs: 20 }).catch((e: unknown) => {
    if (!isRuntimeError(e, "E_TIMEOUT")) throw e;
  });
}

/**
 * etcd or kube-apiserver of the suite's own control plane, killed and restarted the way an
 * operator of the machine would: SIGKILL by pid, then the same argv again (read from /proc
 * before the kill), detached, appending to the same log. `devreg cluster status` must then
 * adopt the restarted process (see controlplane.ts).
 */
export class ControlPlaneFaults {
  private readonly argv = new Map<ControlPlaneProcess, string[]>();

  constructor(private readonly state: ClusterState) {}

  /** SIGKILLs `which`; returns the kill time (epoch ms). */
  async kill(which: ControlPlaneProcess): Promise<number> {
    const where = locateProcess(this.state, which);
    if (where.state === "gone")
      throw new BenchError("E_CHILD_DIED", `${which} is not running; cannot inject a fault`);
    this.argv.set(which, where.id.argv);
    process.kill(where.id.pid, "SIGKILL");
    const at = Date.now();
    await waitGone(where.id);
    return at;
  }

  /** Starts `which` again with the argv it had. */
  restart(which: ControlPlaneProcess): void {
    const argv = this.argv.get(which);
    if (!argv?.[0]) throw new BenchError("E_USAGE", `${which} was not killed by this suite`);
    const log = join(this.state.stateDir, "logs", which === "etcd" ? "etcd.log" : "kube-apiserver.log");
    const fd = openSync(log, "a");
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    child.unref();
  }
}

/**
 * Polls a quorum read of the registrations until the apiserver (and etcd behind it) answers;
 * returns that time (epoch ms). The reference point of "decisions resume ≤ 3 s after the
 * server answers again".
 */
export async function waitAnswering(
  admin: KubeRest,
  namespace: string,
  timeoutMs = 120_000,
): Promise<number> {
  const answers = () =>
    new Registrations(admin, namespace).list({ limit: 1 }, { timeoutMs: 1000 }).then(
      () => true,
      () => false,
    );
  await waitFor(answers, {
    timeoutMs,
    intervalMs: 100,
    onTimeout: () =>
      new BenchError("E_TIMEOUT", `the control plane did not answer within ${timeoutMs / 1000} s`),
  });
  return Date.now();
}

/** A devreg component run as its own process (bin/devreg), restartable with the same arguments. */
export class Component<T> {
  child: Child | undefined;
  info: T | undefined;
  /** When the current incarnation said it was ready (epoch ms). */
  readyAt = 0;

  constructor(
    readonly name: string,
    private readonly env: ComponentEnv,
    public args: string[],
    private readonly ready: () => (line: string) => T | undefined,
  ) {}

  /** Starts (or restarts) it; every incarnation appends to the same log, so killed ones' lines stay. */
  async start(): Promise<T> {
    const { child, info } = await startChild({
      name: this.name,
      ...devregCommand(this.env, this.args),
      ready: this.ready(),
      timeoutMs: 90_000,
      logFile: this.logFile,
    });
    this.child = child;
    this.info = info;
    this.readyAt = Date.now();
    return info;
  }

  get logFile(): string {
    return join(this.env.workDir, `${this.name}.log`);
  }

  /** SIGKILL by pid; returns the kill time (epoch ms). */
  async kill(): Promise<number> {
    const c = this.child;
    if (!c?.alive) throw new BenchError("E_CHILD_DIED", `${this.name} is not running; cannot inject a fault`);
    process.kill(c.pid, "SIGKILL");
    const at = Date.now();
    await c.stop(0);
    return at;
  }

  async stop(): Promise<void> {
    await this.child?.stop(5_000);
  }
}

export function operatorComponent(env: ComponentEnv, identity: string): Component<true> {
  return new Component(
    `operator-${identity}`,
    env,
    operatorArgs(env, ["--identity", identity, "--log-level", "info"]),
    // Ready once its caches synced: a standby never logs "became leader".
    () => (l) => (l.includes('"msg":"caches synced"') ? true : undefined),
  );
}

export interface GatewayPorts {
  mqtt: number;
  http: number;
  admin: number;
}

/** A gateway's MQTT listener over TLS: its certificate and key files (PEM). */
export interface GatewayTls {
  certFile: string;
  keyFile: string;
}

/** Fixed ports, so a restarted gateway listens where the devices reconnect. */
export function gatewayArgs(
  env: ComponentEnv,
  gatewayId: string,
  ports: GatewayPorts,
  keyFile: string,
  tls?: GatewayTls,
): string[] {
  return [
    "--kubeconfig",
    env.kubeconfig,
    "gateway",
    "--namespace",
    env.namespace,
    "--gateway-id",
    gatewayId,
    "--host",
    "127.0.0.1",
    "--mqtt-port",
    String(ports.mqtt),
    "--http-port",
    String(ports.http),
    "--admin-port",
    String(ports.admin),
    "--key-file",
    keyFile,
    ...(tls ? ["--tls-cert", tls.certFile, "--tls-key", tls.keyFile] : []),
  ];
}

export function gatewayComponent(
  env: ComponentEnv,
  gatewayId: string,
  ports: GatewayPorts,
  keyFile: string,
  tls?: GatewayTls,
): Component<{ mqttPort: number; adminPort: number; publicKey: string }> {
  const name = tls ? "gateway-tls" : "gateway";
  return new Component(name, env, gatewayArgs(env, gatewayId, ports, keyFile, tls), gatewayReadyParser);
}

/**
 * A self-signed certificate for 127.0.0.1 (openssl, P-256, one day), written to `dir`; the
 * certificate is also the CA the suite's TLS devices trust (they verify it, as firmware must).
 */
export function selfSignedLoopbackCert(dir: string): GatewayTls & { caPem: string } {
  const certFile = join(dir, "gateway-tls-cert.pem");
  const keyFile = join(dir, "gateway-tls-key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
  return { certFile, keyFile, caPem: readFileSync(certFile, "utf8") };
}
