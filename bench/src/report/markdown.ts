import type { CpuShare } from "../procfs/cpu-split.ts";
import type { BenchResult, PhaseResult, SweepPoint, TargetCheck } from "../result.ts";

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
      "Latencies in ms from an HDR histogram.",
  );
  lines.push("");
  lines.push(
    table(
      ["run", "arrival", "conc.", "n", "ok", "errors", "p50", "p90", "p99", "max", "per s", "max start lag ms"],
      r.phases.map(phaseRow),
    ),
  );
  const errs = r.phases.filter((p) => p.errors > 0);
  if (errs.length > 0) {
    lines.push("");
    for (const p of errs) lines.push(`- ${p.id} errors: ${formatKinds(p.errorKinds)}`);
  }
  lines.push("");
  lines.push("## Scale sweep (devices enrolled and left connected)");
  lines.push("");
  if (r.sweep.length === 0) lines.push("No sweep in this run.");
  else {
    lines.push(
      table(
        ["devices", "connected", "enrolled", "enroll/s", "gateway RSS before", "gateway RSS after", "KiB/device", "CPU split"],
        r.sweep.map(sweepRow),
      ),
    );
  }
  lines.push("");
  lines.push("## CPU split, whole run");
  lines.push("");
  lines.push(
    table(
      ["process", "CPU s", "share", "avg cores"],
      r.cpuTotal.map((c) => [c.role, c.cpuSeconds.toFixed(1), `${c.sharePct.toFixed(1)}%`, c.cores.toFixed(2)]),
    ),
  );
  const cpuPhases = r.phases.filter((p) => p.cpu.length > 0);
  if (cpuPhases.length > 0) {
    lines.push("");
    lines.push("Per phase:");
    lines.push("");
    lines.push(table(["run", "CPU split (share of measured CPU)"], cpuPhases.map((p) => [p.id, formatCpu(p.cpu)])));
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

function targetRow(t: TargetCheck): string[] {
  return [t.description, t.target, t.actual, t.met === null ? "n/a" : t.met ? "yes" : "**no**"];
}

function phaseRow(p: PhaseResult): string[] {
  const arrival = p.arrival.mode === "burst" ? "burst" : `${p.arrival.ratePerSec}/s`;
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
    String(p.maxStartLagMs),
  ];
}

function sweepRow(s: SweepPoint): string[] {
  return [
    String(s.devices),
    String(s.connected),
    String(s.enrolled),
    s.enrollPerSec.toFixed(1),
    mib(s.gatewayRssBaselineKiB),
    mib(s.gatewayRssKiB),
    s.rssPerDeviceKiB.toFixed(1),
    formatCpu(s.cpu),
  ];
}

export function formatCpu(cpu: CpuShare[]): string {
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
