/**
 * Capacity check of the simulator itself: a fleet of N virtual MCUs (default 10 000 at
 * 400/s, node crypto) in this process against a bare Aedes broker + auto-responder in a
 * child process (no Kubernetes). Reports the connect rate achieved, this process's RSS per
 * connected device and CPU, and the usual fleet summary.
 *   npm run bench -w firmware-sim -- [--count 10000] [--rate 400] [--crypto node] [--json]
 * The broker runs in its own process so the numbers are the simulator's alone, and so each
 * side has its own file-descriptor budget (10 000 sockets each).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { cpus, loadavg } from "node:os";
import { type CryptoBackendName, Fleet } from "../src/index.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const count = Number(arg("count", "10000"));
const rate = Number(arg("rate", "400"));
const crypto = arg("crypto", "node") as CryptoBackendName;
const json = process.argv.includes("--json");
const log = (line: string) => process.stderr.write(`${line}\n`);

/** utime+stime of a process in seconds, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks; 100 Hz on Linux
}
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

const here = dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const broker = spawn(process.execPath, [tsx, join(here, "fake-gateway-process.ts")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const ready = await new Promise<{ url: string; publicKey: string; pid: number }>((resolve, reject) => {
  broker.once("exit", (code) => reject(new Error(`fake gateway exited with ${code}`)));
  createInterface({ input: broker.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
});

try {
  globalThis.gc?.();
  const baseRss = process.memoryUsage().rss / 2 ** 20;
  const load0 = loadavg()[0]!;
  // Event-loop delay tells whether this process (and not the broker or the host) is the bottleneck.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const brokerCpu0 = cpuSeconds(ready.pid);
  const t0 = performance.now();
  let peakRss = baseRss;
  let peakHeap = 0;
  let rssAtAllConnected: number | undefined;

  const fleet = new Fleet({
    count,
    rate,
    mqttUrl: ready.url,
    gatewayPublicKey: new Uint8Array(Buffer.from(ready.publicKey, "base64")),
    crypto,
    deadlineMs: 300_000,
    progressIntervalMs: 1000,
  });
  fleet.on("progress", (p) => {
    const mem = process.memoryUsage();
    const rss = mem.rss / 2 ** 20;
    peakRss = Math.max(peakRss, rss);
    peakHeap = Math.max(peakHeap, mem.heapUsed / 2 ** 20);
    if (rssAtAllConnected === undefined && p.phases.enrolled === count) rssAtAllConnected = rss;
    log(
      `${(p.elapsedMs / 1000).toFixed(0).padStart(4)}s booted ${p.booted} connected ${p.connected} enrolled ${p.phases.enrolled} ` +
        `failed ${p.phases.failed}  rss ${rss.toFixed(0)} MiB  broker rss ${rssMiB(ready.pid).toFixed(0)} MiB`,
    );
  });
  const summary = await fleet.run();
  loopDelay.disable();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const simCpu = (cpu.user + cpu.system) / 1e6;
  const brokerCpu = cpuSeconds(ready.pid) - brokerCpu0;
  const atConnected = rssAtAllConnected ?? peakRss;
  const result = {
    count,
    crypto,
    targetRate: rate,
    wallSeconds: Math.round(wall * 10) / 10,
    bootRate: summary.rate.boot,
    connectRate: summary.rate.connect,
    outcomes: summary.outcomes,
    sim: {
      baseRssMiB: Math.round(baseRss),
      rssAllEnrolledMiB: Math.round(atConnected),
      peakRssMiB: Math.round(peakRss),
      peakHeapMiB: Math.round(peakHeap),
      rssPerDeviceKiB: Math.round(((atConnected - baseRss) * 1024) / count),
      cpuSeconds: Math.round(simCpu * 10) / 10,
      cpuCores: Math.round((simCpu / wall) * 100) / 100,
      cpuMsPerDevice: Math.round((simCpu * 1000 * 100) / count) / 100,
      eventLoopDelayMs: {
        p50: Math.round(loopDelay.percentile(50) / 1e6),
        p99: Math.round(loopDelay.percentile(99) / 1e6),
        max: Math.round(loopDelay.max / 1e6),
      },
    },
    hostLoadAvg1m: { before: Math.round(load0 * 10) / 10, after: Math.round(loadavg()[0]! * 10) / 10 },
    broker: { cpuSeconds: Math.round(brokerCpu * 10) / 10, rssMiB: Math.round(rssMiB(ready.pid)) },
    latencyMs: summary.latencyMs,
    counters: summary.counters,
    retries: summary.retries,
    errors: summary.errors,
  };
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    log(
      `\n${count} devices (${crypto}), target ${rate}/s: booted ${result.bootRate}/s, connected ${result.connectRate}/s`,
    );
    log(`outcomes ${JSON.stringify(summary.outcomes)}`);
    log(
      `sim RSS ${result.sim.baseRssMiB} -> ${result.sim.rssAllEnrolledMiB} MiB with all enrolled and connected ` +
        `(${result.sim.rssPerDeviceKiB} KiB/device), peak heap ${result.sim.peakHeapMiB} MiB`,
    );
    log(
      `sim CPU ${result.sim.cpuSeconds} s over ${result.wallSeconds} s (${result.sim.cpuCores} cores, ` +
        `${result.sim.cpuMsPerDevice} ms/device); broker CPU ${result.broker.cpuSeconds} s`,
    );
    log(
      `sim event-loop delay ms ${JSON.stringify(result.sim.eventLoopDelayMs)}; host load average ` +
        `${result.hostLoadAvg1m.before} -> ${result.hostLoadAvg1m.after} on ${cpus().length} cores`,
    );
    log(`latency ms ${JSON.stringify(summary.latencyMs)}`);
    log(`counters ${JSON.stringify(summary.counters)}`);
    log(`retries by cause ${JSON.stringify(summary.retries)}`);
  }
} finally {
  broker.kill("SIGTERM");
  await new Promise((r) => broker.once("exit", r));
}
