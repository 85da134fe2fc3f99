import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { encodeJsonEnrollRequest } from "@devreg/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayOptions } from "../../src/config.ts";
import { FD_RESERVE, openFdCount } from "../../src/limits/fd-budget.ts";
import type { GatewayHandle } from "../../src/index.ts";
import { TestDevice, metric, startTestGateway, useGatewaySuite, verifiedReply, waitFor } from "../helpers.ts";
import type { AttackKind, AttackResult, AttackSpec } from "./attacker.ts";

/**
 * Issue 13's attacks against the real gateway (default limits), each in its own attacker
 * process on loopback, while an honest device keeps enrolling (MQTT and HTTP in turn).
 * Asserts: attacker sessions refused or closed, the honest device always succeeds, the
 * gateway's descriptors stay within its caps and its memory within a bound. Writes a
 * report to .devreg/abuse-report.{md,json}. CI size by default; `npm run abuse -- --full`
 * (DEVREG_ABUSE_FULL=1) runs 10 000 sockets per kind.
 */
const FULL = process.env.DEVREG_ABUSE_FULL === "1";
const SOCKETS = Number(process.env.DEVREG_ABUSE_SOCKETS ?? (FULL ? 10_000 : 600));
const GARBAGE_CLIENTS = FULL ? 2_400 : 150;
const ADDRESSES = 10;
/** Gateway-process memory growth allowed during one attack. */
const RSS_GROWTH_CAP_MB = FULL ? 400 : 200;
/** Honest-device target from the issue (reported, not asserted: the machine is shared). */
const HONEST_P99_TARGET_MS = 1_000;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const ATTACKER = join(here, "attacker.ts");

/** Counts the gateway's log lines by message (the gate under test keeps them bounded). */
const logLines = new Map<string, number>();
const logSink = new Writable({
  write(chunk, _enc, cb) {
    for (const line of String(chunk).split("\n")) {
      if (!line) continue;
      const msg = (JSON.parse(line) as { msg?: string }).msg ?? "";
      logLines.set(msg, (logLines.get(msg) ?? 0) + 1);
    }
    cb();
  },
});
const totalLogLines = () => [...logLines.values()].reduce((a, b) => a + b, 0);

const t = useGatewaySuite("abuse", { pairing: true, gateways: [] });
let gw: GatewayHandle;
/** Descriptors the gateway may hold: its connection caps plus the reserve they leave. */
let fdCap = 0;
const rows: Row[] = [];

interface Honest {
  ok: number;
  failed: number;
  failures: string[];
  ms: number[];
}

interface Row {
  attack: AttackKind;
  size: number;
  durationMs: number;
  result: AttackResult;
  honest: { ok: number; failed: number; p50: number; p99: number; max: number };
  fdsBefore: number;
  fdsPeak: number;
  fdCap: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  loopDelayMaxMs: number;
  logLines: number;
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fds = () => openFdCount() ?? 0;
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

async function honestEnroll(i: number): Promise<void> {
  const d = new TestDevice();
  if (i % 2 === 0) {
    try {
      await d.connect(gw.mqttPort);
      const r = await d.enroll(gw.publicKey, 10_000);
      if (r.status !== "approved") throw new Error(`mqtt ${r.status} ${r.reason ?? ""}`);
    } finally {
      await d.close();
    }
    return;
  }
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(encodeJsonEnrollRequest(d.request().frame)),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { reply?: string };
  const r = verifiedReply(Buffer.from(body.reply ?? "", "base64"), gw.publicKey, d.deviceId);
  if (r.status !== "approved") throw new Error(`http ${r.status} ${r.reason ?? ""}`);
}

function runAttacker(spec: AttackSpec): Promise<AttackResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ATTACKER, JSON.stringify(spec)], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => {
      out += b;
    });
    child.stderr.on("data", (b) => {
      err += b;
    });
    const kill = setTimeout(() => child.kill("SIGKILL"), spec.durationMs + (spec.holdMs ?? 0) + 90_000);
    child.on("exit", (code) => {
      clearTimeout(kill);
      const line = out.trim().split("\n").pop() ?? "";
      if (code === 0 && line.startsWith("{")) resolvePromise(JSON.parse(line) as AttackResult);
      else reject(new Error(`attacker ${spec.kind} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

async function underAttack(
  kind: AttackKind,
  size: number,
  durationMs: number,
  port: number,
  holdMs = 0,
): Promise<Row> {
  await waitFor(
    async () =>
      (await metric(gw.adminPort, "devreg_gateway_open_connections", { transport: "mqtt" })) <= 1 &&
      (await metric(gw.adminPort, "devreg_gateway_open_connections", { transport: "http" })) <= 1,
    30_000,
    "the previous attack's connections to close",
  );
  const fdsBefore = fds();
  const rssBeforeMb = rssMb();
  let fdsPeak = fdsBefore;
  let rssPeakMb = rssBeforeMb;
  const sampler = setInterval(() => {
    fdsPeak = Math.max(fdsPeak, fds());
    rssPeakMb = Math.max(rssPeakMb, rssMb());
  }, 200);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const linesBefore = totalLogLines();

  const honest: Honest = { ok: 0, failed: 0, failures: [], ms: [] };
  let attacking = true;
  const honestRun = (async () => {
    await sleep(Math.min(2_000, durationMs / 4)); // let the attacker open its sockets first
    for (let i = 0; attacking; i++) {
      const t0 = performance.now();
      try {
        await honestEnroll(i);
        honest.ok++;
        honest.ms.push(performance.now() - t0);
      } catch (e) {
        honest.failed++;
        honest.failures.push((e as Error).message);
      }
      await sleep(200);
    }
  })();
  const result = await runAttacker({
    kind,
    port,
    count: size,
    addresses: ADDRESSES,
    durationMs,
    holdMs,
    gatewayKey: Buffer.from(gw.publicKey).toString("base64"),
  }).finally(() => {
    attacking = false;
  });
  await honestRun;
  clearInterval(sampler);
  loop.disable();
  const row: Row = {
    attack: kind,
    size,
    durationMs,
    result,
    honest: {
      ok: honest.ok,
      failed: honest.failed,
      p50: pct(honest.ms, 50),
      p99: pct(honest.ms, 99),
      max: pct(honest.ms, 100),
    },
    fdsBefore,
    fdsPeak,
    fdCap,
    rssBeforeMb,
    rssPeakMb,
    loopDelayMaxMs: Math.round(loop.max / 1e6),
    logLines: totalLogLines() - linesBefore,
  };
  rows.push(row);
  process.stderr.write(`[abuse] ${JSON.stringify(row)}\n`);
  expect(honest.failures, "the honest device enrolls throughout").toEqual([]);
  expect(honest.ok).toBeGreaterThanOrEqual(1);
  expect(fdsPeak, "gateway descriptors stay within its caps").toBeLessThanOrEqual(fdCap);
  expect(rssPeakMb - rssBeforeMb, "gateway memory growth").toBeLessThanOrEqual(RSS_GROWTH_CAP_MB);
  return row;
}

beforeAll(async () => {
  gw = await startTestGateway(t.env, t.suite, {
    // Default limits, except a shorter idle timeout so the idle attack fits a CI run.
    mqtt: { host: "127.0.0.1", port: 0, idleTimeoutMs: 5_000 },
    logger: pino({ level: "info" }, logSink),
  });
  const caps = parseGatewayOptions({}).limits;
  fdCap = caps.mqttConnections.max + caps.httpConnections.max + FD_RESERVE;
});

afterAll(() => {
  if (rows.length === 0) return;
  const dir = join(repoRoot, ".devreg");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "abuse-report.json"), `${JSON.stringify({ full: FULL, rows }, null, 2)}\n`);
  const lines = [
    `# Abuse suite (${FULL ? "full" : "CI"} size), ${new Date().toISOString()}`,
    "",
    "| attack | size | attacker: opened / closed by gateway / still open | honest ok/failed | honest p50 / p99 / max ms | p99 ≤ 1 s | fds before → peak (cap) | RSS MB before → peak | loop delay max ms | log lines |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.attack} | ${r.size} | ${r.result.opened} / ${r.result.closedByServer} / ${r.result.stillOpen} | ${r.honest.ok}/${r.honest.failed} | ${r.honest.p50} / ${r.honest.p99} / ${r.honest.max} | ${r.honest.p99 <= HONEST_P99_TARGET_MS ? "yes" : "NO"} | ${r.fdsBefore} → ${r.fdsPeak} (${r.fdCap}) | ${r.rssBeforeMb} → ${r.rssPeakMb} | ${r.loopDelayMaxMs} | ${r.logLines} |`,
    ),
    "",
    "Details:",
    ...rows.map((r) => `- ${r.attack}: ${JSON.stringify(r.result.detail)}`),
  ];
  writeFileSync(join(dir, "abuse-report.md"), `${lines.join("\n")}\n`);
  process.stderr.write(`${lines.join("\n")}\n`);
});

describe("abuse: issue 13's attacks against a gateway with default limits", () => {
  it("half-open TCP: sockets that never send CONNECT are closed after the pre-CONNECT timeout", async () => {
    const r = await underAttack("half-open", SOCKETS, 7_000, gw.mqttPort, 5_000);
    expect(r.result.stillOpen).toBe(0);
    expect(r.result.closedByServer).toBe(r.result.opened);
    expect(r.result.closeMsMax).toBeLessThanOrEqual(3_000 + 2_000);
  });

  it("idle MQTT: keepalive 0 refused, the rest closed when idle", async () => {
    const r = await underAttack("idle-mqtt", SOCKETS, 10_000, gw.mqttPort, 8_000);
    expect(r.result.stillOpen).toBe(0);
    // Half the CONNECTs carry keepalive 0: none of those is accepted [PROTO-5a].
    expect(r.result.detail.connack_0_ka0).toBeUndefined();
    expect(r.result.detail.connack_5_ka0 ?? 0).toBeGreaterThanOrEqual(1);
    // The others prove their key [PROTO-39], are accepted, and are closed by the idle timeout.
    expect(r.result.detail.connack_0_ka60 ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("slow HTTP: slow heads and bodies that never read are destroyed by the timeouts", async () => {
    const r = await underAttack("slow-http", SOCKETS, 19_000, gw.httpPort!, 17_000);
    expect(r.result.stillOpen).toBe(0);
  });

  it("replay memory flood from one key over HTTP: nobody else sees ReplayCacheFull", async () => {
    const r = await underAttack("replay-flood", 32, 8_000, gw.httpPort!);
    expect(Object.keys(r.result.detail).some((k) => k.includes("ReplayCacheFull"))).toBe(false);
    expect(await metric(gw.adminPort, "devreg_gateway_replay_entries")).toBeLessThanOrEqual(100_000);
  });

  it("garbage within the rate: every such client is disconnected, log lines stay bounded", async () => {
    const r = await underAttack("garbage", GARBAGE_CLIENTS, 11_000, gw.mqttPort, 9_000);
    expect(r.result.stillOpen).toBe(0);
    // Proven sessions [PROTO-39] got to send garbage: it is the frames that cut them off.
    expect(r.result.detail.frames ?? 0).toBeGreaterThanOrEqual(r.result.opened);
    // Per kind at most burst 20 + 5/s over the run; a handful of kinds are involved.
    expect(r.logLines).toBeLessThanOrEqual(8 * (20 + (5 * (r.durationMs + 20_000)) / 1000));
  });

  it("pipelined packet floods: each client is cut off at its packet budget, before its packets are parsed", async () => {
    const r = await underAttack("packet-flood", 20, 6_000, gw.mqttPort);
    expect(r.result.stillOpen).toBe(0);
    expect(r.result.closedByServer).toBe(r.result.opened);
    expect(r.result.detail.connack_0 ?? 0).toBe(r.result.opened);
    // 32,768 PINGREQs per write; the budget (burst 100) trips inside the first: none is answered.
    expect(r.result.detail.pingresp ?? 0).toBe(0);
    expect(
      await metric(gw.adminPort, "devreg_gateway_refusals_total", { kind: "packet_rate" }),
    ).toBeGreaterThanOrEqual(r.result.opened);
    expect(r.loopDelayMaxMs, "the event loop stays responsive").toBeLessThanOrEqual(500);
  });

  it("over the publish rate: signed busy with retryAfterSeconds at most once per window, connection kept", async () => {
    const r = await underAttack("publish-rate", 1, 6_000, gw.mqttPort);
    expect(r.result.stillOpen).toBe(1);
    expect(r.result.detail.busyWithRetryAfter ?? 0).toBeGreaterThanOrEqual(1);
    // Accepted: a burst of 5 then 1/s; busy notices: at most one per 1 s window.
    expect(r.result.detail.reply_busy ?? 0).toBeLessThanOrEqual(7);
  });
});
