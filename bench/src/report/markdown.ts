import type { CpuShare } from "../procfs/cpu-split.ts";
import {
  type BenchResult,
  cpuMsPerOp,
  type PhaseResult,
  type SweepPoint,
  type TargetCheck,
} from "../result.ts";

/** The Markdown report of one run. Pure: the same result always renders the same text. */
export function renderMarkdown(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`# devreg bench: ${r.startedAt}`);
  lines.push("");
  lines.push(
    `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryMiB} MiB, Node ${r.machine.node}; ` +
      `${r.cluster.kind === "private" ? "private local control plane" : "external cluster"} ${r.cluster.server}; ` +
      `run took ${(r.durationMs / 1000).toFixed(0)} s${r.settings.quick ? " (--quick)" : ""}.`,
  );
  lines.push(
    `Load average (1 min) ${r.machine.loadAvgStart.toFixed(2)} at start, ${r.machine.loadAvgEnd.toFixed(2)} at end: ` +
      `anything well above the bench's own share means other work shared the CPU and the numbers are noisier.`,
  );
  lines.push("");
  lines.push("## Targets");
  lines.push("");
  lines.push(table(["target", "goal", "this run", "met"], r.targets.map(targetRow)));
  lines.push("");
  lines.push("## Latency and throughput");
  lines.push("");
  lines.push(
    "floor = bare keep-alive client, create + status patch; devreg = MQTT publish → verified signed reply; " +
      `polling = the original design (HTTP POST /enroll, gateway polls status every ${r.settings.pollingIntervalMs} ms). ` +
      "Latencies in ms, nearest rank over every sample. CPU ms/op: CPU of every visible process per successful operation " +
      "(robust to other load on the machine; 1000 × cores ÷ it bounds throughput).",
  );
  lines.push("");
  lines.push(
    table(
      [
        "run",
        "arrival",
        "conc.",
        "n",
        "ok",
        "errors",
        "p50",
        "p90",
        "p99",
        "max",
        "per s",
        "CPU ms/op",
        "max start lag ms",
        "retries",
      ],
      r.phases.map(phaseRow),
    ),
  );
  const connects = r.phases.filter((p) => p.connect && p.connect.count > 0);
  if (connects.length > 0) {
    lines.push("");
    lines.push(
      "devreg devices connect before they publish (not in the latency above, but in throughput): " +
        connects
          .map((p) => `${p.id} connect p50 ${ms(p.connect!.p50)} ms, p99 ${ms(p.connect!.p99)} ms`)
          .join("; ") +
        ".",
    );
  }
  const inside = r.phases.filter((p) => p.system === "devreg" && p.gatewayMeanMs !== undefined);
  if (inside.length > 0) {
    lines.push("");
    lines.push(
      "Time inside the gateway (receipt → reply sent, mean, from its /metrics; the rest of a device's latency is MQTT " +
        "and the device itself): " +
        inside
          .map((p) => `${p.id} ${ms(p.gatewayMeanMs!)} ms (device-side mean ${ms(p.latency.mean)} ms)`)
          .join("; ") +
        ".",
    );
  }
  const errs = r.phases.filter((p) => p.errors > 0 || p.notStarted > 0);
  if (errs.length > 0) {
    lines.push("");
    for (const p of errs) {
      if (p.errors > 0) lines.push(`- ${p.id} errors: ${formatKinds(p.errorKinds)}`);
      if (p.notStarted > 0)
        lines.push(`- ${p.id}: ${p.notStarted} of ${p.count} never started (phase time budget spent)`);
    }
  }
  const gatewayLimited = r.phases.filter((p) => isGatewayLimited(p.gatewayCounts));
  if (gatewayLimited.length > 0) {
    lines.push("");
    for (const p of gatewayLimited) {
      lines.push(
        `- ${p.id}: the gateway counted ${formatKinds(p.gatewayCounts!)} (a gateway limit shaped this phase)`,
      );
    }
  }
  const withRequests = r.phases.filter(
    (p) => p.apiRequestsPerOp && Object.keys(p.apiRequestsPerOp).length > 0,
  );
  if (withRequests.length > 0) {
    lines.push("");
    lines.push(
      "kube-apiserver requests per successful operation (all clients, from apiserver_request_total):",
    );
    lines.push("");
    lines.push(
      table(
        ["run", "requests per operation"],
        withRequests.map((p) => [
          p.id,
          Object.entries(p.apiRequestsPerOp!)
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
        ]),
      ),
    );
  }
  lines.push("");
  lines.push("## Scale sweep (devices enrolled and left connected)");
  lines.push("");
  if (r.sweep.length === 0) lines.push("No sweep in this run.");
  else {
    lines.push(
      table(
        [
          "devices",
          "connected",
          "enrolled",
          "enroll/s",
          "p50 / p99 ms",
          "gateway RSS before",
          "gateway RSS after",
          "KiB/device",
          "of which JS heap",
          "bench RSS (fleet)",
          "CPU split",
        ],
        r.sweep.map(sweepRow),
      ),
    );
    const troubled = r.sweep.filter((s) => isGatewayLimited(s.gatewayCounts) || s.failed > 0);
    if (troubled.length > 0) lines.push("");
    for (const s of troubled) {
      if (s.failed > 0)
        lines.push(`- sweep ${s.devices}: ${s.failed} devices failed: ${formatKinds(s.failedKinds)}`);
      if (isGatewayLimited(s.gatewayCounts)) {
        lines.push(`- sweep ${s.devices}: the gateway counted ${formatKinds(s.gatewayCounts!)}`);
      }
    }
  }
  lines.push("");
  lines.push("## CPU split, whole run");
  lines.push("");
  lines.push(
    table(
      ["process", "CPU s", "share", "avg cores"],
      r.cpuTotal.map((c) => [
        c.role,
        c.cpuSeconds.toFixed(1),
        `${c.sharePct.toFixed(1)}%`,
        c.cores.toFixed(2),
      ]),
    ),
  );
  const cpuPhases = r.phases.filter((p) => p.cpu.length > 0);
  if (cpuPhases.length > 0) {
    lines.push("");
    lines.push("Per phase:");
    lines.push("");
    lines.push(
      table(
        ["run", "CPU split (share of measured CPU)"],
        cpuPhases.map((p) => [p.id, formatCpu(p.cpu)]),
      ),
    );
  }
  if (r.notes.length > 0) {
    lines.push("");
    lines.push("## Notes");
    lines.push("");
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  lines.push("");
  return lines.join("\n");
}

/** Busy answers or refusals: a gateway limit, not only the system, shaped the numbers. */
function isGatewayLimited(counts: Record<string, number> | undefined): boolean {
  return Object.keys(counts ?? {}).some(
    (k) => k.startsWith("refused") || k === "answered busy" || k === "answered pending",
  );
}

function targetRow(t: TargetCheck): string[] {
  return [t.description, t.target, t.actual, t.met === null ? "n/a" : t.met ? "yes" : "**no**"];
}

function phaseRow(p: PhaseResult): string[] {
  const arrival =
    p.arrival.mode === "burst"
      ? p.arrival.of === "isolated"
        ? "burst, control plane on its own core"
        : (p.arrival.of ?? "burst")
      : `${p.arrival.ratePerSec}/s`;
  const l = p.latency;
  return [
    p.id,
    arrival,
    String(p.concurrency),
    String(p.count),
    String(p.ok),
    String(p.errors),
    ms(l.p50),
    ms(l.p90),
    ms(l.p99),
    ms(l.max),
    p.throughputPerSec.toFixed(1),
    cpuMsPerOp(p).toFixed(1),
    String(p.maxStartLagMs),
    p.retries === undefined ? "-" : String(p.retries),
  ];
}

function sweepRow(s: SweepPoint): string[] {
  return [
    String(s.devices),
    String(s.connected),
    String(s.enrolled),
    s.enrollPerSec.toFixed(1),
    `${ms(s.latencyP50Ms)} / ${ms(s.latencyP99Ms)}`,
    mib(s.gatewayRssBaselineKiB),
    mib(s.gatewayRssKiB),
    s.rssPerDeviceKiB.toFixed(1),
    s.heapPerDeviceKiB === undefined ? "-" : s.heapPerDeviceKiB.toFixed(1),
    s.benchRssKiB === undefined ? "-" : mib(s.benchRssKiB),
    formatCpu(s.cpu),
  ];
}

function formatCpu(cpu: CpuShare[]): string {
  return cpu.map((c) => `${c.role} ${c.sharePct.toFixed(0)}% (${c.cpuSeconds.toFixed(1)} s)`).join(", ");
}

function formatKinds(kinds: Record<string, number>): string {
  return Object.entries(kinds)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} × ${n}`)
    .join(", ");
}

function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** A GitHub-flavoured Markdown table; pipes in cells are escaped. */
export function table(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|");
  const out = [`| ${header.map(esc).join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) out.push(`| ${r.map(esc).join(" | ")} |`);
  return out.join("\n");
}
