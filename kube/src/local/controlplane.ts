import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import http from "node:http";
import net from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isRuntimeError, waitFor } from "@devreg/runtime";
import { ClusterError } from "./errors.ts";
import {
  cachedApiserverPath,
  cachedEtcdPath,
  ETCD_VERSION,
  KUBE_VERSION,
  localKubeconfigPath,
  localStateDir,
} from "./paths.ts";
import { createPki } from "./pki.ts";
import {
  findByArgv,
  isStillRunning,
  type ProcessIdentity,
  processGroupOf,
  processIdentity,
} from "./process-identity.ts";

export interface ClusterState {
  stateDir: string;
  kubeconfig: string;
  server: string;
  etcdPid: number;
  apiserverPid: number;
  etcdClientPort: number;
  apiserverPort: number;
  startedAt: string;
  adminToken: string;
  caCert: string;
  /**
   * Who etcd and kube-apiserver are (pid, start time, argv), so `down` signals only them and
   * `status` finds them again after a restart by hand with the same flags. Absent in state
   * files written before this field existed (then only the pid is checked, as before).
   */
  processes?: Record<ControlPlaneProcess, ProcessIdentity>;
}

export type ControlPlaneProcess = "etcd" | "apiserver";

/** Where a recorded process is now. */
export type Located =
  | { state: "running"; id: ProcessIdentity }
  /** The recorded pid is gone or reused, but a process with exactly its argv runs: restarted outside `devreg cluster`. */
  | { state: "restarted"; id: ProcessIdentity }
  | { state: "gone" };

/**
 * Finds the recorded etcd or kube-apiserver. Its argv names this state dir's data dir,
 * certificates and ports, so a process with exactly that argv is this control plane's,
 * whoever started it.
 */
export function locateProcess(st: ClusterState, which: ControlPlaneProcess): Located {
  const recorded = st.processes?.[which];
  const pid = which === "etcd" ? st.etcdPid : st.apiserverPid;
  if (!recorded)
    return isAlive(pid) ? { state: "running", id: { pid, startTicks: 0, argv: [] } } : { state: "gone" };
  if (isStillRunning(recorded)) return { state: "running", id: recorded };
  const found = findByArgv(recorded.argv);
  return found[0] ? { state: "restarted", id: found[0] } : { state: "gone" };
}

export interface UpOptions {
  stateDir?: string;
  /** Build kube-apiserver if it is not cached (default true). */
  build?: boolean;
  /** Bound for readiness; each process gets this long. */
  readyTimeoutMs?: number;
  /**
   * Serve kube-apiserver's /debug/pprof (admin only; off by default), to see where the
   * apiserver spends CPU under devreg's load: `go tool pprof` on /debug/pprof/profile.
   */
  profiling?: boolean;
  log?: (line: string) => void;
}

const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const BUILD_SCRIPT = join(REPO_ROOT, "deploy", "local", "build-control-plane.sh");

function statePath(stateDir: string): string {
  return join(stateDir, "state.json");
}

export function readState(stateDir = localStateDir()): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(stateDir), "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => res(port));
    });
  });
}

/** Finds kube-apiserver and etcd, building them once per machine when allowed. */
export function ensureBinaries(opts: { build: boolean; log: (l: string) => void }): {
  apiserver: string;
  etcd: string;
} {
  const bins = { apiserver: cachedApiserverPath(), etcd: cachedEtcdPath() };
  // A binary named by the environment is used as it is, never built.
  for (const [what, env] of [
    ["kube-apiserver", "DEVREG_KUBE_APISERVER"],
    ["etcd", "DEVREG_ETCD"],
  ] as const) {
    const path = process.env[env];
    if (path && !existsSync(path))
      throw new ClusterError("E_MISSING_BINARY", `${what} not found: ${path} (from $${env})`);
  }
  if (existsSync(bins.apiserver) && existsSync(bins.etcd)) return bins;
  if (!opts.build) {
    throw new ClusterError("E_MISSING_BINARY", `kube-apiserver or etcd not built yet: run ${BUILD_SCRIPT}`);
  }
  opts.log(
    `kube-apiserver ${KUBE_VERSION} and etcd ${ETCD_VERSION} are not cached yet; building them once for this machine`,
  );
  const r = spawnSync("bash", [BUILD_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (r.status !== 0 || !existsSync(bins.apiserver) || !existsSync(bins.etcd)) {
    throw new ClusterError("E_BUILD_FAILED", `control plane build failed (see the line above)`);
  }
  return bins;
}

function startDetached(bin: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, "a");
  // detached: own process group, so `down` can kill the whole group and the CLI can exit.
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new ClusterError("E_MISSING_BINARY", `cannot start ${bin}`);
  return child.pid;
}

function lastLines(file: string, n = 3): string {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    return lines.slice(-n).join(" | ").slice(0, 400);
  } catch {
    return "";
  }
}

function probe(url: string, opts: https.RequestOptions): Promise<boolean> {
  return new Promise((res) => {
    const mod = url.startsWith("https") ? https : http;
    const req = mod.get(url, { ...opts, timeout: 2000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => res(false));
  });
}

async function waitReady(
  what: "etcd" | "kube-apiserver",
  pid: number,
  url: string,
  opts: https.RequestOptions,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const answers = async () => {
    if (!isAlive(pid)) {
      throw new ClusterError(
        what === "etcd" ? "E_ETCD_DIED" : "E_APISERVER_DIED",
        `${what} exited during start-up: ${lastLines(logFile)} (log: ${logFile})`,
      );
    }
    return probe(url, opts);
  };
  await waitFor(answers, {
    timeoutMs,
    intervalMs: 200,
    onTimeout: () =>
      new ClusterError(
        what === "etcd" ? "E_ETCD_NOT_READY" : "E_APISERVER_NOT_READY",
        `${what} not ready after ${Math.round(timeoutMs / 1000)} s (log: ${logFile})`,
      ),
  });
}

function kubeconfigYaml(server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: devreg-local
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: devreg-admin
  user:
    token: ${token}
contexts:
- name: devreg-local
  context:
    cluster: devreg-local
    user: devreg-admin
current-context: devreg-local
`;
}

/** Starts etcd + kube-apiserver on loopback. Returns once /readyz is ok. */
export async function clusterUp(opts: UpOptions = {}): Promise<ClusterState> {
  const stateDir = resolve(opts.stateDir ?? localStateDir());
  const log = opts.log ?? (() => {});
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const existing = readState(stateDir);
  if (existing) {
    if (
      locateProcess(existing, "apiserver").state !== "gone" &&
      locateProcess(existing, "etcd").state !== "gone"
    ) {
      throw new ClusterError(
        "E_ALREADY_RUNNING",
        `already running at ${existing.server} (state: ${stateDir})`,
      );
    }
    log(`cleaning stale state from a previous run in ${stateDir}`);
    await clusterDown({ stateDir });
  } else if (existsSync(stateDir)) {
    rmSync(stateDir, { recursive: true, force: true });
  }

  const { apiserver: apiserverBin, etcd: etcdBin } = ensureBinaries({ build: opts.build ?? true, log });
  mkdirSync(join(stateDir, "logs"), { recursive: true, mode: 0o700 });
  const pki = createPki(join(stateDir, "pki"));
  const [etcdClientPort, etcdPeerPort, apiserverPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];

  const pids: number[] = [];
  const cleanup = async () => {
    for (const pid of pids) killGroup(pid, "SIGKILL");
    rmSync(statePath(stateDir), { force: true });
    rmSync(localKubeconfigPath(stateDir), { force: true });
  };
  try {
    const etcdLog = join(stateDir, "logs", "etcd.log");
    const etcdArgs = [
      "--name=devreg",
      `--data-dir=${join(stateDir, "etcd")}`,
      // Loopback only, TLS only, and only clients with a certificate from the cluster's CA
      // (kube-apiserver's): a local user cannot reach the registry past RBAC.
      `--listen-client-urls=https://127.0.0.1:${etcdClientPort}`,
      `--advertise-client-urls=https://127.0.0.1:${etcdClientPort}`,
      `--cert-file=${pki.etcdCert}`,
      `--key-file=${pki.etcdKey}`,
      "--client-cert-auth",
      `--trusted-ca-file=${pki.caCert}`,
      `--listen-peer-urls=https://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=devreg=https://127.0.0.1:${etcdPeerPort}`,
      `--peer-cert-file=${pki.etcdCert}`,
      `--peer-key-file=${pki.etcdKey}`,
      "--peer-client-cert-auth",
      `--peer-trusted-ca-file=${pki.caCert}`,
      "--quota-backend-bytes=4294967296",
      "--log-level=warn",
    ];
    const etcdPid = startDetached(etcdBin, etcdArgs, etcdLog);
    pids.push(etcdPid);
    log(`etcd started (pid ${etcdPid}, port ${etcdClientPort})`);
    const etcdClientTls = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.etcdClientCert),
      key: readFileSync(pki.etcdClientKey),
    };
    await waitReady(
      "etcd",
      etcdPid,
      `https://127.0.0.1:${etcdClientPort}/health`,
      etcdClientTls,
      readyTimeoutMs,
      etcdLog,
    );

    const apiLog = join(stateDir, "logs", "kube-apiserver.log");
    const apiserverArgs = [
      `--etcd-servers=https://127.0.0.1:${etcdClientPort}`,
      `--etcd-cafile=${pki.caCert}`,
      `--etcd-certfile=${pki.etcdClientCert}`,
      `--etcd-keyfile=${pki.etcdClientKey}`,
      `--cert-dir=${pki.dir}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--secure-port=${apiserverPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--service-cluster-ip-range=10.96.0.0/16",
      `--token-auth-file=${pki.tokensFile}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--endpoint-reconciler-type=none",
      `--profiling=${opts.profiling === true}`,
      "--v=1",
    ];
    const apiserverPid = startDetached(apiserverBin, apiserverArgs, apiLog);
    pids.push(apiserverPid);
    const server = `https://127.0.0.1:${apiserverPort}`;
    log(`kube-apiserver started (pid ${apiserverPid}, ${server})`);
    const caPem = readFileSync(pki.caCert, "utf8");
    await waitReady(
      "kube-apiserver",
      apiserverPid,
      `${server}/readyz`,
      { ca: caPem, headers: { authorization: `Bearer ${pki.adminToken}` } },
      readyTimeoutMs,
      apiLog,
    );
    const kubeconfig = localKubeconfigPath(stateDir);
    // Both answered, so both have exec'd: /proc shows their own argv and start time.
    const identityOf = (pid: number, argv: string[]): ProcessIdentity =>
      processIdentity(pid) ?? { pid, startTicks: 0, argv };
    const processes = {
      etcd: identityOf(etcdPid, [etcdBin, ...etcdArgs]),
      apiserver: identityOf(apiserverPid, [apiserverBin, ...apiserverArgs]),
    };
    writeFileSync(kubeconfig, kubeconfigYaml(server, caPem, pki.adminToken), { mode: 0o600 });
    const state: ClusterState = {
      stateDir,
      kubeconfig,
      server,
      etcdPid,
      apiserverPid,
      etcdClientPort,
      apiserverPort,
      startedAt: new Date().toISOString(),
      adminToken: pki.adminToken,
      caCert: pki.caCert,
      processes,
    };
    writeFileSync(statePath(stateDir), JSON.stringify(state, null, 2), { mode: 0o600 });
    return state;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Signals a located process: its whole group when it leads one (as `up` starts it), else only
 * the pid — a process restarted by hand may share a group with the shell that started it.
 */
function signalProcess(id: ProcessIdentity, sig: NodeJS.Signals): void {
  if (processGroupOf(id.pid) === id.pid) killGroup(id.pid, sig);
  else {
    try {
      process.kill(id.pid, sig);
    } catch {
      // already gone
    }
  }
}

function located(st: ClusterState): Array<{ which: ControlPlaneProcess; where: Located }> {
  return (["apiserver", "etcd"] as const).map((which) => ({ which, where: locateProcess(st, which) }));
}

/**
 * Stops both processes (TERM, then KILL after 10 s) and removes the state directory. Only
 * processes that are still the recorded ones (pid, start time, argv), or restarts of them
 * with the same argv, are signalled: a pid reused by an unrelated process is left alone.
 */
export async function clusterDown(opts: { stateDir?: string } = {}): Promise<{ stopped: boolean }> {
  const stateDir = resolve(opts.stateDir ?? localStateDir());
  const st = readState(stateDir);
  let stopped = false;
  if (st) {
    const ids: ProcessIdentity[] = [];
    for (const { where } of located(st)) if (where.state !== "gone") ids.push(where.id);
    // Old state files carry no identity (argv empty): fall back to the pid alone, as before.
    const running = (id: ProcessIdentity) => (id.argv.length > 0 ? isStillRunning(id) : isAlive(id.pid));
    for (const id of ids) {
      stopped = true;
      signalProcess(id, "SIGTERM");
    }
    const allGone = (ms: number, intervalMs: number) =>
      waitFor(() => !ids.some(running), { timeoutMs: ms, intervalMs }).catch((e: unknown) => {
        if (!isRuntimeError(e, "E_TIMEOUT")) throw e; // still running: SIGKILL follows, or the state goes anyway
      });
    await allGone(10_000, 100);
    for (const id of ids) if (running(id)) signalProcess(id, "SIGKILL");
    await allGone(5_000, 50);
  }
  rmSync(stateDir, { recursive: true, force: true });
  return { stopped };
}

export interface ClusterStatus {
  running: boolean;
  ready: boolean;
  state?: ClusterState;
  detail: string;
  /** Processes found restarted outside `devreg cluster` (same argv, new pid); the state file now records them. */
  adopted?: ControlPlaneProcess[];
}

const DISPLAY_NAME: Record<ControlPlaneProcess, string> = { etcd: "etcd", apiserver: "kube-apiserver" };

/**
 * Whether the control plane runs and answers. A process restarted outside `devreg cluster`
 * with the same state dir and flags (same argv) is not stale: status adopts it, recording
 * its new pid and start time so `down` stops it later.
 */
export async function clusterStatus(opts: { stateDir?: string } = {}): Promise<ClusterStatus> {
  const stateDir = resolve(opts.stateDir ?? localStateDir());
  let st = readState(stateDir);
  if (!st) return { running: false, ready: false, detail: `not running (state: ${stateDir})` };
  const where = located(st);
  const gone = where.find((w) => w.where.state === "gone");
  if (gone) {
    return {
      running: false,
      ready: false,
      state: st,
      detail: `stale: ${DISPLAY_NAME[gone.which]} is not running; run \`devreg cluster down\` then \`up\``,
    };
  }
  const adopted: ControlPlaneProcess[] = [];
  const notes: string[] = [];
  for (const { which, where: w } of where) {
    if (w.state !== "restarted" || !st.processes) continue;
    adopted.push(which);
    notes.push(`${DISPLAY_NAME[which]} was restarted outside devreg cluster (now pid ${w.id.pid})`);
    st = {
      ...st,
      ...(which === "etcd" ? { etcdPid: w.id.pid } : { apiserverPid: w.id.pid }),
      processes: { ...st.processes, [which]: w.id },
    };
  }
  if (adopted.length > 0) writeFileSync(statePath(stateDir), JSON.stringify(st, null, 2), { mode: 0o600 });
  const ready = await probe(`${st.server}/readyz`, {
    ca: readFileSync(st.caCert),
    headers: { authorization: `Bearer ${st.adminToken}` },
  });
  const detail = `${ready ? "ready" : "not ready"} at ${st.server}${notes.length ? `; ${notes.join("; ")}` : ""}`;
  return { running: true, ready, state: st, detail, ...(adopted.length ? { adopted } : {}) };
}
