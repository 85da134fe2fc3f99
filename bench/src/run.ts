import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DeviceIdentity } from "@devreg/firmware-sim";
import { KubeRest, resolveKubeConfig } from "@devreg/kube";
import { setPairing } from "@devreg/operator";
import { type BenchCluster, benchNamespaces, deleteNamespaces, openCluster } from "./env/cluster.ts";
import type { Child } from "./env/child-process.ts";
import {
  type ComponentEnv,
  type GatewayProcess,
  startGatewayProcess,
  startOperatorProcess,
} from "./env/components.ts";
import { haveTaskset, planIsolation, withIsolation } from "./env/cpu-pinning.ts";
import { capSweep, devicesWithin, ensureFdLimit, type FdPlan, planFdLimit } from "./env/fd-limit.ts";
import { BenchError } from "./errors.ts";
import { loadAvg1, machineInfo } from "./env/machine.ts";
import { profileFlags, takeHeapSnapshot } from "./env/profiling.ts";
import type { Arrival } from "./load/arrivals.ts";
import { type BenchOptions, type PhaseGroup, resolveSettings } from "./options.ts";
import { runDevreg, runReconnect } from "./phases/devreg.ts";
import { runFloor } from "./phases/floor.ts";
import { apiserverMetrics, httpMetrics } from "./metrics/metrics-client.ts";
import { measurePhase, type Probes, type RolePids } from "./phases/measure.ts";
import { runPolling } from "./phases/polling.ts";
import { runSweep } from "./phases/sweep.ts";
import { CpuLedger } from "./procfs/cpu-split.ts";
import { cpuSeconds } from "./procfs/sample.ts";
import { type ResultFiles, writeResults } from "./report/files.ts";
import { checkTargets } from "./report/targets.ts";
import type { BenchResult, BenchSettings, PhaseResult, SweepPoint } from "./result.ts";

export const DEFAULT_RESULTS_DIR = resolve(fileURLToPath(new URL("../results", import.meta.url)));

export interface BenchRun {
  result: BenchResult;
  files: ResultFiles;
}

/**
 * One whole bench run: floor, devreg (fixed rates and a burst), the original polling design,
 * then the scale sweep, on one control plane; writes the result files and returns them.
 */
export async function runBench(opts: BenchOptions = {}): Promise<BenchRun> {
  const { signal } = opts;
  const hooks: RunHooks = {};
  if (!signal) return runUntilDone(opts, hooks);
  if (signal.aborted) throw new BenchError("E_INTERRUPTED", "interrupted before it started");
  // A phase cannot be cancelled midway: an abort stops the children and the control plane
  // (the same cleanup as a failure), then stops waiting for the run.
  let onAbort = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => {
      void (hooks.cleanup?.() ?? Promise.resolve()).then(() =>
        reject(new BenchError("E_INTERRUPTED", "interrupted")),
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([runUntilDone(opts, hooks), interrupted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

interface RunHooks {
  /** Set once the run has something to clean up; idempotent. */
  cleanup?: () => Promise<void>;
}

async function runUntilDone(opts: BenchOptions, hooks: RunHooks): Promise<BenchRun> {
  const s = resolveSettings(opts);
  const log = opts.log ?? ((l: string) => process.stderr.write(`[bench] ${l}\n`));
  const startedAt = new Date();
  const t0 = performance.now();
  const loadAvgStart = loadAvg1();
  const notes: string[] = [];
  const fdPlan = sizeSweep(s, (l) => {
    log(l);
    notes.push(l);
  });
  const workDir = mkdtempSync(join(tmpdir(), "devreg-bench-"));
  const cleanups: Array<() => Promise<void>> = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch((e: Error) => log(`cleanup: ${e.message}`));
    })();
    return cleaned;
  };
  hooks.cleanup = cleanup;

  try {
    const cluster = await openCluster({
      kubeconfig: opts.kubeconfig,
      envKubeconfig: opts.envKubeconfig,
      log,
    });
    cleanups.push(() => cluster.close());
    const { namespace, floorNamespace } = await benchNamespaces(cluster.rest);
    if (cluster.kind === "external")
      cleanups.push(() => deleteNamespaces(cluster.rest, [namespace, floorNamespace]));
    log(`namespaces ${namespace} (devreg, polling) and ${floorNamespace} (floor); work dir ${workDir}`);
    await setPairing(cluster.rest, namespace, { enabled: true, fieldManager: "devreg-bench" });

    const profileDir = join(workDir, "profiles");
    if (opts.profile) mkdirSync(profileDir, { recursive: true });
    const env: ComponentEnv = {
      kubeconfig: cluster.kubeconfig,
      namespace,
      workDir,
      nodeFlags: opts.profile ? profileFlags(profileDir) : [],
      gatewayConfig: fdPlan.mqttCap === undefined ? undefined : gatewayCapConfig(workDir, fdPlan.mqttCap),
    };
    if (fdPlan.mqttCap !== undefined) {
      notes.push(
        `gateway MQTT connection cap set to ${fdPlan.mqttCap} (--config limits.mqttConnections.max): its default ` +
          "stops at 50,000 whatever the open-file limit (gateway-mqtt config); every other limit is the default",
      );
    }
    const children: Child[] = [];
    cleanups.push(async () => {
      await Promise.all(children.map((c) => c.stop()));
    });
    const operator = await startOperatorProcess(env);
    children.push(operator);
    let gateway: GatewayProcess = await startGatewayProcess(env);
    children.push(gateway.child);
    log(`operator pid ${operator.pid}, gateway pid ${gateway.child.pid} at ${gateway.mqttUrl}`);

    const floorRest = await KubeRest.fromKubeConfig(resolveKubeConfig(cluster.kubeconfig).kc, {
      maxSockets: s.concurrency,
    });
    cleanups.push(async () => floorRest.close());

    const pids: RolePids = {
      etcd: cluster.etcdPid,
      "kube-apiserver": cluster.apiserverPid,
      operator: operator.pid,
      gateway: gateway.child.pid,
      bench: process.pid,
    };
    /** A fresh gateway process in place of the current one (its CPU and RSS then start from zero). */
    const restartGateway = async (logName: string) => {
      ledger.retire("gateway");
      await gateway.child.stop();
      gateway = await startGatewayProcess(env, logName);
      children.push(gateway.child);
      pids.gateway = gateway.child.pid;
      ledger.track("gateway", gateway.child.pid);
    };
    if (cluster.kind === "external")
      notes.push("external cluster: etcd and kube-apiserver CPU are not visible to the bench");
    const probes: Probes = {
      pids,
      apiserverMetrics: await apiserverMetrics(cluster.kubeconfig),
      // Reads whichever gateway is current (it is restarted before the sweep).
      gatewayMetrics: () => httpMetrics(gateway.metricsUrl),
    };
    const ledger = new CpuLedger(cpuSeconds);
    for (const [role, pid] of Object.entries(pids) as Array<[keyof RolePids, number | undefined]>) {
      if (pid !== undefined) ledger.track(role, pid);
    }

    const target = {
      mqttUrl: gateway.mqttUrl,
      gatewayPublicKey: gateway.publicKey,
      deadlineMs: s.replyTimeoutMs,
    };
    const floorPhase = (arrival: Arrival, count: number) =>
      measurePhase("floor", arrival, s.concurrency, probes, () =>
        runFloor({
          rest: floorRest,
          namespace: floorNamespace,
          arrival,
          count,
          concurrency: s.concurrency,
          budgetMs: s.phaseBudgetMs,
        }),
      );
    const devregPhase = (arrival: Arrival, count: number, onEnrolled?: (id: DeviceIdentity) => void) =>
      measurePhase("devreg", arrival, s.concurrency, probes, () =>
        runDevreg({
          ...target,
          onEnrolled,
          arrival,
          count,
          concurrency: s.concurrency,
          budgetMs: s.phaseBudgetMs,
        }),
      );

    if (s.warmup > 0) {
      log(`warm-up: ${s.warmup} floor pairs and ${s.warmup} devreg enrollments (not recorded)`);
      await runFloor({
        rest: floorRest,
        namespace: floorNamespace,
        arrival: { mode: "burst" },
        count: s.warmup,
        concurrency: s.concurrency,
      });
      await runDevreg({ ...target, arrival: { mode: "burst" }, count: s.warmup, concurrency: s.concurrency });
    }

    const phases: PhaseResult[] = [];
    const record = (p: PhaseResult) => {
      phases.push(p);
      log(
        `${p.id}: ${p.ok}/${p.count} ok, ${p.errors} errors, p50 ${p.latency.p50} ms, p99 ${p.latency.p99} ms, ` +
          `${p.throughputPerSec}/s`,
      );
    };
    const runs = (g: PhaseGroup) => s.phases.includes(g);
    // Floor and devreg alternate per load pattern, so both see the same machine conditions.
    for (const [i, rate] of s.rates.entries()) {
      if (!runs("fixed")) break;
      const arrival: Arrival = { mode: "fixed", ratePerSec: rate };
      const count = s.fixedCounts[i]!;
      record(await floorPhase(arrival, count));
      record(await devregPhase(arrival, count));
    }
    // The burst's devices are the reconnect phase's fleet when there is no sweep.
    let enrolled: DeviceIdentity[] = [];
    if (runs("burst")) {
      record(await floorPhase({ mode: "burst" }, s.burstCount));
      record(await devregPhase({ mode: "burst" }, s.burstCount, (id) => enrolled.push(id)));
    }
    if (runs("isolated")) {
      const isolated: Arrival = { mode: "burst", of: "isolated" };
      await isolatedBursts(cluster, [operator.pid, gateway.child.pid, process.pid], log, notes, [
        async () => record(await floorPhase(isolated, s.burstCount)),
        async () => record(await devregPhase(isolated, s.burstCount)),
      ]);
    }
    const lightArrival: Arrival = { mode: "fixed", ratePerSec: s.rates[0]! };
    // The polling design holds each request for about one interval, so it may need more
    // requests in flight than the cap: give it what the rate needs, and say so.
    const pollingConcurrency = Math.max(
      s.concurrency,
      Math.ceil((s.rates[0]! * (s.pollingIntervalMs + 500)) / 1000) + 1,
    );
    if (runs("polling") && pollingConcurrency !== s.concurrency) {
      notes.push(
        `polling ran with ${pollingConcurrency} in flight (rate × interval needs more than ${s.concurrency})`,
      );
    }
    if (runs("polling"))
      record(
        await measurePhase("polling", lightArrival, pollingConcurrency, probes, () =>
          runPolling({
            rest: floorRest,
            namespace,
            arrival: lightArrival,
            count: s.pollingCount,
            concurrency: pollingConcurrency,
            pollIntervalMs: s.pollingIntervalMs,
            budgetMs: s.phaseBudgetMs,
          }),
        ),
      );

    let sweep: SweepPoint[] = [];
    const sweepEnrolled: DeviceIdentity[] = [];
    if (runs("sweep") && s.sweep.length > 0) {
      // A fresh gateway for the sweep: its RSS baseline then holds no garbage from the phases above.
      await restartGateway("gateway-sweep");
      log(`sweep over ${s.sweep.join(", ")} devices (gateway restarted, pid ${gateway.child.pid})`);
      sweep = await runSweep({
        onEnrolled: (id) => sweepEnrolled.push(id),
        mqttUrl: gateway.mqttUrl,
        gatewayPublicKey: gateway.publicKey,
        deadlineMs: s.replyTimeoutMs,
        points: s.sweep,
        concurrency: s.concurrency,
        budgetMs: s.sweepBudgetMs,
        settleMs: s.sweepSettleMs,
        gatewayPid: gateway.child.pid,
        pids,
        gatewayMetrics: probes.gatewayMetrics,
        log,
        onLargest: opts.profile
          ? async () => {
              await takeHeapSnapshot(gateway.child.pid, probes.gatewayMetrics);
              notes.push(`gateway heap snapshot at ${Math.max(...s.sweep)} devices in ${profileDir}`);
            }
          : undefined,
      });
    }

    if (sweepEnrolled.length > 0) enrolled = sweepEnrolled;
    if (runs("reconnect") && enrolled.length > s.reconnectMax) {
      notes.push(
        `devreg-reconnect brought back ${s.reconnectMax} of the ${enrolled.length} enrolled devices (--reconnect-max)`,
      );
      enrolled = enrolled.slice(0, s.reconnectMax);
    }
    if (runs("reconnect") && enrolled.length > 0) {
      // As after a gateway restart: every enrolled device comes back at once.
      await restartGateway("gateway-reconnect");
      log(
        `reconnect: ${enrolled.length} enrolled devices at once (gateway restarted, pid ${gateway.child.pid})`,
      );
      const back = enrolled;
      record(
        await measurePhase("devreg", { mode: "burst", of: "reconnect" }, back.length, probes, () =>
          runReconnect({
            mqttUrl: gateway.mqttUrl,
            gatewayPublicKey: gateway.publicKey,
            deadlineMs: s.replyTimeoutMs,
            identities: back,
            budgetMs: s.phaseBudgetMs,
          }),
        ),
      );
    }

    const durationMs = Math.round(performance.now() - t0);
    const cpuTotal = ledger.split(durationMs / 1000);
    await Promise.all(children.map((c) => c.stop()));
    if (opts.profile) notes.push(`CPU profiles (.cpuprofile) of the gateway and operator in ${profileDir}`);
    const result: BenchResult = {
      version: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs,
      machine: machineInfo(loadAvgStart),
      cluster: { kind: cluster.kind, server: cluster.server, namespace, floorNamespace },
      settings: s,
      phases,
      sweep,
      cpuTotal,
      targets: checkTargets(phases, sweep, s.rates[0]!),
      notes: [
        "bench = this process: the load generator, the floor client and every simulated device (node crypto backend)",
        "gateway and operator run as `bin/devreg gateway|operator` with default settings and limits; each device connects from its own loopback address (127.1.0.0/16 and up)",
        ...notes,
      ],
    };
    const files = writeResults(result, opts.resultsDir ?? DEFAULT_RESULTS_DIR);
    log(`results: ${files.markdown}`);
    return { result, files };
  } finally {
    await cleanup();
    if (opts.profile || opts.keepLogs) log(`logs kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * floor-burst-isolated and devreg-burst-isolated: each phase runs with etcd and kube-apiserver
 * on cores of their own and `rest` (gateway, operator, this process) on the others; or a note
 * why they cannot run here.
 */
async function isolatedBursts(
  cluster: BenchCluster,
  rest: number[],
  log: (l: string) => void,
  notes: string[],
  phases: Array<() => Promise<void>>,
): Promise<void> {
  const plan = planIsolation({
    cpus: availableParallelism(),
    external: cluster.kind === "external",
    controlPlanePids: [cluster.etcdPid, cluster.apiserverPid],
    haveTaskset: haveTaskset(),
  });
  if (plan.kind === "skip") {
    log(`isolated bursts skipped: ${plan.why}`);
    notes.push(`floor-burst-isolated and devreg-burst-isolated skipped: ${plan.why}`);
    return;
  }
  log(`isolated bursts: etcd + kube-apiserver on cpu ${plan.controlPlane}, the rest on cpu ${plan.rest}`);
  notes.push(
    `isolated bursts (taskset): etcd and kube-apiserver on cpu ${plan.controlPlane}; gateway, operator and ` +
      `bench (load generator and simulated fleet) on cpu ${plan.rest}; affinities restored afterwards`,
  );
  const pids = { controlPlane: [cluster.etcdPid!, cluster.apiserverPid!], rest };
  for (const phase of phases) await withIsolation(plan, pids, phase);
}

/**
 * Open files for the sweep: raises this process's limit (its children inherit it) to what the
 * largest point needs; when it cannot, the sweep stops at what the limit holds, and says so.
 */
function sizeSweep(s: BenchSettings, say: (line: string) => void): FdPlan {
  const want = Math.max(0, ...(s.phases.includes("sweep") ? s.sweep : []));
  const plan = planFdLimit(want);
  const fd = ensureFdLimit(plan);
  if (fd.ok) {
    if (fd.raisedFrom !== undefined)
      say(
        `open-file limit raised from ${fd.raisedFrom} to ${plan.limit} (prlimit) for a ${want}-device sweep`,
      );
    return plan;
  }
  const { points, dropped } = capSweep(s.sweep, devicesWithin(fd.limit));
  s.sweep = points;
  say(
    `sweep capped at ${Math.max(0, ...points)} devices (dropped ${dropped.join(", ")}): the open-file limit ` +
      `${fd.limit} cannot be raised to the ${plan.limit} ${want} devices need (${fd.why}); ` +
      `raise it first (\`ulimit -n ${plan.limit}\` with CAP_SYS_RESOURCE), or lower --sweep`,
  );
  return planFdLimit(Math.max(0, ...points));
}

/** A --config file for the gateway raising only its MQTT connection cap (see planFdLimit). */
function gatewayCapConfig(workDir: string, max: number): string {
  const path = join(workDir, "gateway-limits.json");
  writeFileSync(path, JSON.stringify({ limits: { mqttConnections: { max } } }));
  return path;
}
