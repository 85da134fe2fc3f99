import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClusterState,
  clusterDown,
  clusterStatus,
  clusterUp,
  componentKubeconfig,
  type DeviceRegistration,
  ensureNamespace,
  freePort,
  installCrds,
  isDecided,
  KubeRest,
  leasePath,
  OPERATOR_LEASE,
  Registrations,
  resolveKubeConfig,
} from "@devreg/kube";
import {
  createIdentity,
  Fleet,
  type McuOutcome,
  VirtualMcu,
  identityFileName,
  loadIdentity,
  nodeCrypto,
} from "@devreg/firmware-sim";
import { setPairing } from "@devreg/operator";
import {
  encodeEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  registrationNameForDeviceId,
} from "@devreg/protocol";
import { sleep } from "@devreg/runtime";
import type { ComponentEnv } from "../env/components.ts";
import { BenchError } from "../errors.ts";
import { type DecisionLine, firstDecisionAfter, parseDecisionLog } from "./decision-log.ts";
import {
  checkInvariants,
  type DeviceResult,
  digestChanges,
  registrationDigest,
  type Violation,
} from "./invariants.ts";
import {
  type Component,
  ControlPlaneFaults,
  gatewayArgs,
  gatewayComponent,
  type GatewayPorts,
  operatorComponent,
  selfSignedLoopbackCert,
  waitAnswering,
} from "./processes.ts";

export const FAULTS = [
  "leader-kill",
  "operator-restart-alone",
  "gateway-kill-same-id",
  "gateway-kill-new-id",
  "apiserver-kill",
  "etcd-kill",
  "apiserver-and-leader-kill",
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosOptions {
  /** Devices per wave; one wave per fault, all in one deployment (so faults come in sequence). */
  devicesPerWave: number;
  /** Devices booted per second. */
  rate: number;
  /** How long etcd or kube-apiserver stays down. */
  pauseMs: number;
  faults: readonly Fault[];
  log: (line: string) => void;
  /** Keep the work dir (logs, identities) after the run. */
  keepWorkDir?: boolean;
}

/** One recovery figure, measured from a reference instant. */
interface RecoveryFigure {
  what: string;
  /** The instant it is measured from, e.g. "apiserver answers". */
  from: string;
  ms: number | undefined;
  targetMs: number;
}

interface WaveResult {
  fault: Fault;
  devices: number;
  durationMs: number;
  recovery: RecoveryFigure[];
  /** Devices of this wave that enrolled over MQTT with TLS (mqtts://), through the fault. */
  tlsDevices?: number;
  /** POST /enroll during the fault: the status and how long the answer took. */
  httpDuringFault?: { status: number | string; ms: number };
  /** The fault could not be injected or its recovery not measured. */
  injectionError?: string;
  violations: Violation[];
}

export interface ChaosReport {
  options: Omit<ChaosOptions, "log">;
  controlPlaneStartMs: number;
  waves: WaveResult[];
  /** Same identities again, no fault: registrations before -> after (empty = nothing changed). */
  rerun: {
    devices: number;
    changes: string[];
    newApprovals: number;
    uuidMismatches: number;
    durationMs: number;
  };
  /** A device whose registration carries a dead gateway's label reconnects and is deactivated. */
  deactivation?: { labelledWith: string; deactivatedWithinMs: number | undefined };
  /** `devreg cluster status` after etcd/apiserver were restarted outside it. */
  clusterStatusAfter: string;
  violations: Violation[];
  totalMs: number;
  workDir: string;
}

/** The lease settings the suite runs with: the operator's defaults (documented in operator/README.md). */
const LEASE_DURATION_MS = 15_000;

interface Deployment {
  env: ComponentEnv;
  /** The gateway's own: its ServiceAccount's kubeconfig. */
  gatewayEnv: ComponentEnv;
  admin: KubeRest;
  regs: Registrations;
  cp: ControlPlaneFaults;
  state: ClusterState;
  operators: Component<true>[];
  gateway: Component<{ mqttPort: number; adminPort: number; publicKey: string }>;
  gatewayKey: Uint8Array;
  ports: GatewayPorts;
  keyFile: string;
  gatewayIds: string[];
  /** A second gateway whose MQTT listener speaks TLS (self-signed; its devices trust the cert). */
  tls: {
    gateway: Component<{ mqttPort: number; adminPort: number; publicKey: string }>;
    ports: GatewayPorts;
    caPem: string;
  };
}

/** How devices reach a gateway: plain MQTT, or MQTT over TLS with the CA they trust. */
interface Via {
  url: string;
  tlsCa?: string;
}
const plainVia = (d: Deployment): Via => ({ url: `mqtt://127.0.0.1:${d.ports.mqtt}` });
const tlsVia = (d: Deployment): Via => ({ url: `mqtts://127.0.0.1:${d.tls.ports.mqtt}`, tlsCa: d.tls.caPem });

function decisions(d: Deployment): DecisionLine[] {
  return d.operators.flatMap((o) => {
    try {
      return parseDecisionLog(readFileSync(o.logFile, "utf8"));
    } catch {
      return [];
    }
  });
}

async function leaderIdentity(d: Deployment): Promise<string | undefined> {
  try {
    const lease = await d.admin.request<{ spec: { holderIdentity?: string } }>(
      "GET",
      leasePath(d.env.namespace, OPERATOR_LEASE),
      { timeoutMs: 2000 },
    );
    return lease.spec.holderIdentity || undefined;
  } catch {
    return undefined;
  }
}

async function waitForLeader(d: Deployment, timeoutMs = 60_000): Promise<Component<true>> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const id = await leaderIdentity(d);
    const op = d.operators.find((o) => o.name === `operator-${id}` && o.child?.alive);
    if (op) return op;
    await sleep(200);
  }
  throw new BenchError("E_TIMEOUT", "no operator replica took the lease");
}

/**
 * A fresh device enrolls over MQTT: when it got its approval (epoch ms, or undefined), and when
 * an operator replica wrote that decision (from the decision logs).
 */
async function canary(
  d: Deployment,
  deadlineMs = 60_000,
  via = plainVia(d),
): Promise<{ approvedAt?: number; decidedAt?: number }> {
  const identity = createIdentity(nodeCrypto);
  const mcu = new VirtualMcu({
    identity,
    mqttUrl: via.url,
    tlsCa: via.tlsCa,
    gatewayPublicKey: d.gatewayKey,
    crypto: "node",
    stayConnected: false,
    deadlineMs,
  });
  const outcome = await mcu.start();
  const approvedAt = outcome.phase === "enrolled" ? Date.now() : undefined;
  await mcu.stop();
  const name = registrationNameForDeviceId(identity.deviceId);
  const decidedAt = (await waitFor(() => decisions(d).find((l) => l.registration === name), 5_000))?.time;
  return { approvedAt, decidedAt };
}

/** POST /enroll with a fresh signed request: the HTTP status (or the error) and how long it took. */
async function httpEnroll(d: Deployment): Promise<{ status: number | string; ms: number }> {
  const keyPair = generateDeviceKeyPair(randomBytes(32));
  const frame = encodeEnrollRequest({
    keyPair,
    requestId: newRequestId(),
    nonce: newNonce(),
    timestamp: Math.floor(Date.now() / 1000),
    metadata: { model: "chaos-http", firmwareVersion: "1.0.0" },
  });
  const t0 = Date.now();
  try {
    const res = await fetch(`http://127.0.0.1:${d.ports.http}/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ request: Buffer.from(frame).toString("base64") }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json().catch(() => ({}))) as { status?: string };
    return { status: `${res.status} ${body.status ?? ""}`.trim(), ms: Date.now() - t0 };
  } catch (e) {
    return { status: (e as Error).name, ms: Date.now() - t0 };
  }
}

async function listRegistrations(d: Deployment): Promise<DeviceRegistration[]> {
  return d.regs.listAll();
}

/** Waits until nothing is Pending or without status (or `timeoutMs` passes). */
async function settle(d: Deployment, timeoutMs = 60_000): Promise<DeviceRegistration[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const regs = await listRegistrations(d).catch(() => undefined);
    if (regs?.every((r) => isDecided(r.status?.phase))) return regs;
    if (Date.now() > until) return regs ?? [];
    await sleep(500);
  }
}

/** Runs a fleet on `dir`'s identities; `onProgress` sees each device's first final outcome. */
async function storm(
  d: Deployment,
  dir: string,
  count: number,
  rate: number,
  onDevice?: (done: number, o: McuOutcome) => void,
  via = plainVia(d),
): Promise<McuOutcome[]> {
  const fleet = new Fleet({
    count,
    rate,
    mqttUrl: via.url,
    tlsCa: via.tlsCa,
    gatewayPublicKey: d.gatewayKey,
    identitiesDir: dir,
    // Long enough to ride out every fault; a device that still fails is a finding.
    deadlineMs: 300_000,
    keyMismatchThreshold: 0,
  });
  const outcomes: McuOutcome[] = [];
  fleet.on("device", (o) => {
    outcomes.push(o);
    onDevice?.(outcomes.length, o);
  });
  await fleet.run();
  return outcomes;
}

async function mustLoadIdentity(dir: string, index: number) {
  const id = await loadIdentity(join(dir, identityFileName(index)), nodeCrypto);
  if (!id) throw new BenchError("E_USAGE", `no identity ${identityFileName(index)} in ${dir}`);
  return id;
}

async function deviceResults(dir: string, outcomes: readonly McuOutcome[]): Promise<DeviceResult[]> {
  const keys = new Map<string, string>();
  for (let i = 0; i < outcomes.length; i++) {
    const id = await mustLoadIdentity(dir, i);
    keys.set(id.deviceId, Buffer.from(id.publicKey).toString("base64"));
  }
  return outcomes.map((o) => ({
    deviceId: o.deviceId,
    publicKey: keys.get(o.deviceId) ?? "",
    phase: o.phase,
    deviceUUID: o.deviceUUID,
  }));
}

/** Injects `fault` into the running deployment; returns its recovery figures. */
async function inject(d: Deployment, fault: Fault, opts: ChaosOptions, wave: WaveResult): Promise<void> {
  const fig = (what: string, from: string, at: number, end: number | undefined, targetMs: number) =>
    wave.recovery.push({ what, from, ms: end === undefined ? undefined : end - at, targetMs });
  const firstFleetApprovalAfter = (since: number) =>
    firstDecisionAfter(
      decisions(d).filter((l) => l.phase === "Approved"),
      since,
    )?.time;

  switch (fault) {
    case "leader-kill": {
      const leader = await waitForLeader(d);
      const killedAt = await leader.kill();
      const probe = canary(d, 60_000);
      const resumed = await waitFor(
        () => firstDecisionAfter(decisions(d), killedAt),
        LEASE_DURATION_MS + 30_000,
      );
      fig(
        "decisions resume (other replica)",
        "leader SIGKILL",
        killedAt,
        resumed?.time,
        LEASE_DURATION_MS + 2000,
      );
      fig(
        "a new device decided",
        "leader SIGKILL",
        killedAt,
        (await probe).decidedAt,
        LEASE_DURATION_MS + 5000,
      );
      await leader.start(); // same arguments, same identity: it comes back as the standby
      return;
    }
    case "operator-restart-alone": {
      const leader = await waitForLeader(d);
      const standby = d.operators.filter((o) => o !== leader);
      for (const s of standby) await s.stop();
      await leader.kill();
      await leader.start();
      const readyAt = leader.readyAt;
      const probe = canary(d, 60_000);
      const resumed = await waitFor(() => firstDecisionAfter(decisions(d), readyAt));
      fig(
        "decisions resume (same identity reclaims its lease)",
        "restarted replica ready",
        readyAt,
        resumed?.time,
        3000,
      );
      fig("a new device decided", "restarted replica ready", readyAt, (await probe).decidedAt, 8000);
      for (const s of standby) await s.start();
      return;
    }
    case "gateway-kill-same-id":
    case "gateway-kill-new-id": {
      // Same id: the TLS gateway goes down with the plain one, its mqtts:// devices mid-storm.
      const tls = fault === "gateway-kill-same-id";
      await Promise.all([d.gateway.kill(), tls ? d.tls.gateway.kill() : undefined]);
      await sleep(1000);
      if (fault === "gateway-kill-new-id") {
        const id = `chaos-gw-${d.gatewayIds.length}`;
        d.gatewayIds.push(id);
        d.gateway.args = gatewayArgs(d.gatewayEnv, id, d.ports, d.keyFile);
      }
      await Promise.all([d.gateway.start(), tls ? d.tls.gateway.start() : undefined]);
      const listenAt = d.gateway.readyAt;
      const [probe, tlsProbe] = await Promise.all([
        canary(d, 30_000),
        tls ? canary(d, 30_000, tlsVia(d)) : undefined,
      ]);
      fig("a new device approved", "gateway listens", listenAt, probe.approvedAt, 5000);
      fig(
        "first approval after restart",
        "gateway listens",
        listenAt,
        firstFleetApprovalAfter(listenAt),
        5000,
      );
      if (tlsProbe) {
        const tlsAt = d.tls.gateway.readyAt;
        fig("a new device approved over mqtts", "TLS gateway listens", tlsAt, tlsProbe.approvedAt, 5000);
      }
      return;
    }
    case "apiserver-kill":
    case "etcd-kill":
    case "apiserver-and-leader-kill": {
      const which = fault === "etcd-kill" ? "etcd" : "apiserver";
      const leader = fault === "apiserver-and-leader-kill" ? await waitForLeader(d) : undefined;
      const killedAt = await d.cp.kill(which);
      if (leader) await leader.kill();
      await sleep(Math.min(1000, opts.pauseMs));
      wave.httpDuringFault = await httpEnroll(d);
      await sleep(Math.max(0, opts.pauseMs - (Date.now() - killedAt)));
      d.cp.restart(which);
      const answerAt = await waitAnswering(d.admin, d.env.namespace);
      const probe = canary(d, 60_000);
      const resumed = await waitFor(() => firstDecisionAfter(decisions(d), answerAt));
      // With the leader killed too, the standby may not have seen the leader's last renewal
      // before the outage; it then times the lease from the apiserver's return (CHAOS.md).
      const target = leader ? LEASE_DURATION_MS + 2000 : 3000;
      fig("decisions resume", `${which} answers again`, answerAt, resumed?.time, target);
      const p = await probe;
      fig("a new device decided", `${which} answers again`, answerAt, p.decidedAt, target + 5000);
      fig("a new device approved", `${which} answers again`, answerAt, p.approvedAt, target + 5000);
      if (leader) await leader.start();
      return;
    }
  }
}

async function waitForAsync<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(200);
  }
  return undefined;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 60_000): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
  return undefined;
}

/**
 * The fault suite (issue 17): its own control plane, two operator replicas and a gateway as
 * separate processes (bin/devreg), one enrollment storm per fault with the fault injected a
 * third of the way in, the invariants after each, then the same identities again with no fault.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), "devreg-chaos-"));
  const stateDir = join(workDir, "control-plane");
  const log = opts.log;
  const state = await clusterUp({ stateDir, build: false, log: (l) => log(`control plane: ${l}`) });
  const controlPlaneStartMs = Date.now() - t0;
  log(`control plane ready in ${controlPlaneStartMs} ms (${state.server}); work dir ${workDir}`);
  const { kc } = resolveKubeConfig(state.kubeconfig);
  const admin = await KubeRest.fromKubeConfig(kc, { maxSockets: 8, timeoutMs: 10_000 });
  const started: Component<unknown>[] = [];
  try {
    await installCrds(admin);
    const namespace = "devreg-chaos";
    await ensureNamespace(admin, namespace);
    await setPairing(admin, namespace, {
      enabled: true,
      forSeconds: 24 * 3600,
      fieldManager: "devreg-chaos",
    });
    const opEnv: ComponentEnv = {
      namespace,
      workDir,
      kubeconfig: await componentKubeconfig(admin, kc, namespace, "operator", workDir),
    };
    const gwEnv: ComponentEnv = {
      ...opEnv,
      kubeconfig: await componentKubeconfig(admin, kc, namespace, "gateway", workDir),
    };
    // Fixed ports (a restarted gateway listens where its devices reconnect), all distinct:
    // freePort() may hand out the same free port twice before anything binds it.
    const taken = new Set<number>();
    const distinctPort = async () => {
      for (;;) {
        const p = await freePort();
        if (taken.has(p)) continue;
        taken.add(p);
        return p;
      }
    };
    const ports = { mqtt: await distinctPort(), http: await distinctPort(), admin: await distinctPort() };
    const keyFile = join(workDir, "gateway-key.pem");
    const operators = [operatorComponent(opEnv, "chaos-op-a"), operatorComponent(opEnv, "chaos-op-b")];
    const gateway = gatewayComponent(gwEnv, "chaos-gw-0", ports, keyFile);
    const certs = selfSignedLoopbackCert(workDir);
    const tlsPorts = { mqtt: await distinctPort(), http: await distinctPort(), admin: await distinctPort() };
    const tlsGateway = gatewayComponent(gwEnv, "chaos-gw-tls", tlsPorts, keyFile, certs);
    started.push(...operators, gateway, tlsGateway);
    await Promise.all([...operators.map((o) => o.start()), gateway.start()]);
    // After the first gateway wrote the key file: both sign with the key the devices pin.
    await tlsGateway.start();
    const d: Deployment = {
      env: opEnv,
      gatewayEnv: gwEnv,
      admin,
      regs: new Registrations(admin, namespace),
      cp: new ControlPlaneFaults(state),
      state,
      operators,
      gateway,
      gatewayKey: new Uint8Array(Buffer.from(gateway.info!.publicKey, "base64")),
      ports,
      keyFile,
      gatewayIds: ["chaos-gw-0"],
      tls: { gateway: tlsGateway, ports: tlsPorts, caPem: certs.caPem },
    };
    await waitForLeader(d);
    log("operators (2 replicas), gateway and TLS gateway running; pairing open");

    // A device enrolled through the first gateway, kept for the deactivation check.
    const witnessDir = join(workDir, "ids", "witness");
    await storm(d, witnessDir, 1, 1);

    const waves: WaveResult[] = [];
    const allDevices: DeviceResult[] = [];
    const dirs: Array<{ dir: string; count: number; via: Via }> = [];
    let violations: Violation[] = [];
    for (const [i, fault] of opts.faults.entries()) {
      const dir = join(workDir, "ids", `wave-${i}`);
      mkdirSync(dir, { recursive: true });
      const wave: WaveResult = {
        fault,
        devices: opts.devicesPerWave,
        durationMs: 0,
        recovery: [],
        violations: [],
      };
      const w0 = Date.now();
      let injected: Promise<void> | undefined;
      // A fifth of the gateway-restart wave enrolls over mqtts://, through the TLS gateway's restart.
      const tlsCount = fault === "gateway-kill-same-id" ? Math.ceil(opts.devicesPerWave / 5) : 0;
      const tlsDir = join(dir, "tls");
      const tlsStorm =
        tlsCount > 0
          ? storm(d, tlsDir, tlsCount, Math.max(1, opts.rate / 5), undefined, tlsVia(d))
          : undefined;
      if (tlsCount > 0) wave.tlsDevices = tlsCount;
      const outcomes = await storm(d, dir, opts.devicesPerWave, opts.rate, (done) => {
        if (!injected && done >= Math.ceil(opts.devicesPerWave / 3)) {
          log(`wave ${i + 1}/${opts.faults.length}: injecting ${fault}`);
          injected = inject(d, fault, opts, wave).catch((e: Error) => {
            wave.injectionError = e.message;
            log(`wave ${i + 1}: injecting ${fault} failed: ${e.message}`);
          });
        }
      });
      await injected;
      dirs.push({ dir, count: opts.devicesPerWave, via: plainVia(d) });
      allDevices.push(...(await deviceResults(dir, outcomes)));
      if (tlsStorm) {
        dirs.push({ dir: tlsDir, count: tlsCount, via: tlsVia(d) });
        allDevices.push(...(await deviceResults(tlsDir, await tlsStorm)));
      }
      const regs = await settle(d);
      wave.violations = checkInvariants({
        devices: allDevices,
        registrations: regs,
        decisions: decisions(d),
      });
      wave.durationMs = Date.now() - w0;
      waves.push(wave);
      const figures = wave.recovery.map((r) => `${r.what} ${r.ms ?? "never"} ms after ${r.from}`).join("; ");
      log(
        `wave ${i + 1} (${fault}): ${wave.durationMs} ms; ${figures}; violations: ${wave.violations.length}`,
      );
    }
    violations = waves.at(-1)?.violations ?? [];

    let deactivation: ChaosReport["deactivation"];
    if (d.gatewayIds.length > 1) deactivation = await deactivateWitness(d, witnessDir, log);

    // The same identities again, no fault: nothing may change.
    const r0 = Date.now();
    const before = registrationDigest(await settle(d));
    const approvalsBefore = decisions(d).filter((l) => l.phase === "Approved").length;
    let rerunDevices = 0;
    let uuidMismatches = 0;
    const byId = new Map(allDevices.map((x) => [x.deviceId, x.deviceUUID]));
    for (const { dir, count, via } of dirs) {
      const outcomes = await storm(d, dir, count, Math.max(opts.rate, 50), undefined, via);
      rerunDevices += outcomes.length;
      for (const o of outcomes) if (o.deviceUUID !== byId.get(o.deviceId)) uuidMismatches++;
    }
    const after = registrationDigest(await settle(d));
    const rerun = {
      devices: rerunDevices,
      changes: digestChanges(before, after),
      newApprovals: decisions(d).filter((l) => l.phase === "Approved").length - approvalsBefore,
      uuidMismatches,
      durationMs: Date.now() - r0,
    };
    log(
      `re-run of ${rerunDevices} identities: ${rerun.changes.length} changes, ${rerun.newApprovals} new approvals`,
    );

    const status = await clusterStatus({ stateDir });
    return {
      options: { ...opts, log: undefined } as Omit<ChaosOptions, "log">,
      controlPlaneStartMs,
      waves,
      rerun,
      deactivation,
      clusterStatusAfter: status.detail,
      violations,
      totalMs: Date.now() - t0,
      workDir,
    };
  } finally {
    await Promise.all(started.map((c) => c.stop().catch(() => undefined)));
    admin.close();
    await clusterDown({ stateDir });
  }
}

/**
 * The witness enrolled through the first gateway, which is dead now: its registration still
 * carries that gateway's label. It reboots (a real device reconnects after a broker restart),
 * enrolls again through the new gateway, stays connected, and is deactivated: the notice must reach it.
 */
async function deactivateWitness(
  d: Deployment,
  dir: string,
  log: (l: string) => void,
): Promise<ChaosReport["deactivation"]> {
  const identity = await mustLoadIdentity(dir, 0);
  const name = registrationNameForDeviceId(identity.deviceId);
  const labelledWith = (await d.regs.get(name)).metadata.labels?.["devices.example.com/gateway"] ?? "-";
  const mcu = new VirtualMcu({
    mqttUrl: `mqtt://127.0.0.1:${d.ports.mqtt}`,
    gatewayPublicKey: d.gatewayKey,
    identity,
    crypto: "node",
    stayConnected: true,
    deadlineMs: 60_000,
  });
  try {
    const first = await mcu.start();
    if (first.phase !== "enrolled") return { labelledWith, deactivatedWithinMs: undefined };
    const deactivated = new Promise<number>((resolve) =>
      mcu.on("final", (o) => {
        if (o.phase === "deactivated") resolve(Date.now());
      }),
    );
    const at = Date.now();
    await d.regs.patch(name, { spec: { deactivate: true } });
    const got = await Promise.race([deactivated, sleep(20_000).then(() => undefined)]);
    log(
      `witness (labelled ${labelledWith}) deactivated: ${got === undefined ? "notice never arrived" : `${got - at} ms`}`,
    );
    // Let it enroll as active again so the re-run and the invariants see a normal device.
    await d.regs.patch(name, { spec: { deactivate: false } });
    await waitForAsync(async () =>
      (await d.regs.get(name)).status?.phase === "Approved" ? true : undefined,
    );
    return { labelledWith, deactivatedWithinMs: got === undefined ? undefined : got - at };
  } finally {
    await mcu.stop();
  }
}
