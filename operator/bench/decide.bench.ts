/**
 * Decision throughput: the operator vs a bare loop writing the same status patches.
 *
 *   npm run bench -w operator                 # 2,000 registrations, concurrency 16, 1 round
 *   npm run bench -w operator -- --rounds 3 --count 2000 --concurrency 16
 *
 * Starts a private local control plane (temp state dir), installs the CRDs, creates 2,000 pending
 * registrations per namespace for every round up front, then per round (alternating the order):
 *  (a) bare: N workers each take the next registration and PATCH /status with decide()'s output
 *      and the object's resourceVersion (exactly the write the operator makes), nothing else:
 *      no informer, no queue, no Events.
 *  (b) operator: pairing on, then startOperator() with the same concurrency on 2,000 pending
 *      registrations; timed from start() and from the first decision to the last.
 * Target: operator >= 90% of bare (first-to-last). Not a test: it prints numbers.
 *
 * Diagnostics: BENCH_REQUESTS=1 prints the apiserver's request mix per phase; --bare-watch gives the
 * bare loop a passive watcher (prices the watch fan-out); --skip-bare for profiling the operator.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type DeviceRegistration,
  Informer,
  KubeRest,
  Registrations,
  clusterDown,
  clusterUp,
  ensureNamespace,
  installCrds,
  resolveKubeConfig,
} from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { pino } from "pino";
import { v4 as uuidv4 } from "uuid";
import { decide } from "../src/decide.ts";
import { parsePairing, setPairing, startOperator } from "../src/index.ts";
import { writeStatus } from "../src/status-writer.ts";
import { gatewayRegistration } from "../test/helpers.ts";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "16" },
    rounds: { type: "string", default: "1" },
    events: { type: "boolean", default: true },
    /** Diagnostic: give the bare loop a passive watcher, to price the watch fan-out alone. */
    "bare-watch": { type: "boolean", default: false },
    /** Diagnostic: run only the operator phase (e.g. under --cpu-prof). */
    "skip-bare": { type: "boolean", default: false },
  },
  allowNegative: true,
});
const COUNT = Number(args.count);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);

/** CPU seconds (user+sys) a process has used so far, from /proc (Linux). */
function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

let PIDS = { apiserver: 0, etcd: 0 };
let METRICS: { url: string; token: string; ca: Buffer } | undefined;

function fetchText(): Promise<string> {
  const m = METRICS as { url: string; token: string; ca: Buffer };
  return new Promise((resolve) => {
    https
      .get(m.url, { ca: m.ca, headers: { authorization: `Bearer ${m.token}` } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", () => resolve(""));
  });
}

/** apiserver_request_total by verb/resource/subresource/code (from the apiserver's own /metrics). */
async function requestCounts(): Promise<Map<string, number>> {
  const text = await fetchText();
  const m = new Map<string, number>();
  for (const line of String(text).split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!labels.resource || labels.resource === "") continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""} ${labels.code}`;
    m.set(key, (m.get(key) ?? 0) + Number(line.split(" ").pop()));
  }
  return m;
}

async function requestDelta(before: Map<string, number>): Promise<string> {
  const after = await requestCounts();
  const out: string[] = [];
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.push(`${k}=${d}`);
  }
  return out.sort().join(", ");
}

/** CPU used by kube-apiserver, etcd and this process between snap() and the returned function's call. */
function cpuMeter(): () => string {
  const a0 = cpuOf(PIDS.apiserver);
  const e0 = cpuOf(PIDS.etcd);
  const s0 = process.cpuUsage();
  return () => {
    const s = process.cpuUsage(s0);
    return `cpu: apiserver ${(cpuOf(PIDS.apiserver) - a0).toFixed(1)} s, etcd ${(cpuOf(PIDS.etcd) - e0).toFixed(1)} s, bench ${((s.user + s.system) / 1e6).toFixed(1)} s`;
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function createPending(rest: KubeRest, ns: string): Promise<void> {
  await ensureNamespace(rest, ns);
  const regs = new Registrations(rest, ns);
  const t0 = performance.now();
  await pool(COUNT, 32, async () => {
    await regs.create(gatewayRegistration());
  });
  log(`  created ${COUNT} pending registrations in ${ns} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}


/** (a) The floor: the same writes, as fast as the apiserver takes them at this concurrency. */
async function bare(kubeconfig: string, ns: string, watch: boolean): Promise<number> {
  const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(kubeconfig).kc, { maxSockets: CONCURRENCY + 4 });
  const regs = new Registrations(rest, ns);
  const items = await regs.listAll();
  const pairing = parsePairing(
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "devreg-pairing" }, data: { enabled: "true" } },
    new Date(),
  );
  let watcher: Informer<DeviceRegistration> | undefined;
  if (watch) {
    watcher = new Informer<DeviceRegistration>(rest, { path: regs.collectionPath() });
    watcher.on("error", () => {});
    watcher.start();
    await watcher.waitForSync();
  }
  const req0 = await requestCounts();
  const cpu = cpuMeter();
  const t0 = performance.now();
  await pool(items.length, CONCURRENCY, async (i) => {
    const reg = items[i] as DeviceRegistration;
    const d = decide(reg, pairing, new Date(), { newUUID: uuidv4, deviceIdOf: deviceIdFromPublicKey });
    if (d.action !== "update") throw new Error("bare loop: nothing to write?");
    await writeStatus(regs, reg.metadata.name, d.status, reg.metadata.resourceVersion);
  });
  const s = (performance.now() - t0) / 1000;
  await watcher?.stop();
  rest.close();
  const rate = items.length / s;
  log(`  bare${watch ? "+watch" : ""}: ${items.length} status patches in ${s.toFixed(2)} s = ${rate.toFixed(0)}/s; ${cpu()}`);
  if (process.env.BENCH_REQUESTS) log(`    requests: ${await requestDelta(req0)}`);
  return rate;
}

/** (b) The operator deciding a backlog: informer list, queue, decide, patch, Events. */
async function operator(kubeconfig: string, admin: KubeRest, ns: string) {
  await setPairing(admin, ns, { enabled: true, forSeconds: 3600 });
  const times: number[] = [];
  const req0 = await requestCounts();
  const cpu = cpuMeter();
  const t0 = performance.now();
  const op = await startOperator({
    kubeconfig,
    namespace: ns,
    concurrency: CONCURRENCY,
    httpPort: 0,
    httpHost: "127.0.0.1",
    identity: `bench-${ns}`,
    logger: pino({ level: "warn" }),
    ...(args.events ? {} : { eventQps: 0.001, eventBurst: 1, eventQueueSize: 1 }),
  });
  const synced = performance.now();
  op.onDecision(() => times.push(performance.now()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${times.length}/${COUNT} decisions after 300 s`)), 300_000);
    const check = setInterval(() => {
      if (times.length >= COUNT) {
        clearTimeout(t);
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  const first = times[0] as number;
  const last = times[times.length - 1] as number;
  const cpuLine = cpu();
  const metrics = await op.metrics();
  await op.stop();
  if (process.env.BENCH_REQUESTS) log(`    requests: ${await requestDelta(req0)}`);
  const pick = (name: string) => Number(new RegExp(`^devreg_operator_${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
  const fromFirst = (COUNT - 1) / ((last - first) / 1000);
  const fromStart = COUNT / ((last - t0) / 1000);
  log(
    `  operator: ${COUNT} decisions; start->synced ${((synced - t0) / 1000).toFixed(2)} s, ` +
      `first->last ${((last - first) / 1000).toFixed(2)} s = ${fromFirst.toFixed(0)}/s, ` +
      `start->last ${((last - t0) / 1000).toFixed(2)} s = ${fromStart.toFixed(0)}/s; ` +
      `conflicts ${pick("status_conflicts_total")}, events sent ${pick("events_sent_total")} dropped ${pick("events_dropped_total")}; ${cpuLine}`,
  );
  return { fromFirst, fromStart };
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), "devreg-bench-"));
  log(`starting a private control plane in ${stateDir}`);
  const st = await clusterUp({ stateDir, log: (l) => log(`  ${l}`) });
  PIDS = { apiserver: st.apiserverPid, etcd: st.etcdPid };
  METRICS = { url: `${st.server}/metrics`, token: st.adminToken, ca: readFileSync(st.caCert) };
  const admin = await KubeRest.fromKubeConfig(resolveKubeConfig(st.kubeconfig).kc, { maxSockets: 40 });
  const results: Array<{ bare: number; bareWatch: number; fromFirst: number; fromStart: number }> = [];
  try {
    await installCrds(admin);
    log(`count ${COUNT}, concurrency ${CONCURRENCY}, rounds ${ROUNDS}, events ${args.events ? "on" : "off"}`);
    for (let r = 1; r <= ROUNDS; r++) {
      log(`round ${r}`);
      // Create every namespace of the round before measuring any of them, and delete them after,
      // so creation load and a growing apiserver heap favour no phase.
      const phases: Array<{ name: string; run: () => Promise<number | { fromFirst: number; fromStart: number }> }> = [];
      if (!args["skip-bare"]) phases.push({ name: "bare", run: () => bare(st.kubeconfig, `bench-bare-${r}`, false) });
      if (args["bare-watch"]) phases.push({ name: "bareWatch", run: () => bare(st.kubeconfig, `bench-barew-${r}`, true) });
      phases.push({ name: "op", run: () => operator(st.kubeconfig, admin, `bench-op-${r}`) });
      const nsOf = (name: string) => `bench-${name === "bare" ? "bare" : name === "bareWatch" ? "barew" : "op"}-${r}`;
      for (const p of phases) await createPending(admin, nsOf(p.name));
      // Rotate the order across rounds, so drift in the machine's load favours no phase.
      const order = phases.map((_, i) => phases[(i + r - 1) % phases.length] as (typeof phases)[number]);
      const got: Record<string, unknown> = {};
      for (const p of order) got[p.name] = await p.run();
      for (const p of phases) {
        const path = new Registrations(admin, nsOf(p.name)).collectionPath();
        // Cleanup only (keeps the apiserver's heap the same size every round); slow on a busy box.
        await admin.request("DELETE", path, { timeoutMs: 300_000 }).catch((e: Error) => log(`  cleanup: ${e.message}`));
      }
      const o = got.op as { fromFirst: number; fromStart: number };
      results.push({ bare: (got.bare as number) ?? Number.NaN, bareWatch: (got.bareWatch as number) ?? Number.NaN, ...o });
    }
  } finally {
    admin.close();
    await clusterDown({ stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  }
  const pct = (a: number, b: number) => (Number.isFinite(a / b) ? `${((100 * a) / b).toFixed(0)}%` : "-");
  const n = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");
  console.log(`\ndecisions/s (count ${COUNT}, concurrency ${CONCURRENCY}; target: operator >= 90% of bare)`);
  console.log("round  bare/s  operator/s first->last  ratio  operator/s from start  ratio  bare+watch/s  operator/bare+watch");
  results.forEach((x, i) => {
    console.log(
      [
        String(i + 1).padEnd(5),
        n(x.bare).padStart(6),
        n(x.fromFirst).padStart(22),
        pct(x.fromFirst, x.bare).padStart(5),
        n(x.fromStart).padStart(21),
        pct(x.fromStart, x.bare).padStart(5),
        n(x.bareWatch).padStart(12),
        pct(x.fromFirst, x.bareWatch).padStart(19),
      ].join("  "),
    );
  });
  const ratios = results.map((x) => x.fromFirst / x.bare).filter(Number.isFinite);
  if (ratios.length > 1) {
    console.log(`operator/bare first->last: best ${(100 * Math.max(...ratios)).toFixed(0)}%, worst ${(100 * Math.min(...ratios)).toFixed(0)}%`);
  }
}

await main();
