import type { FleetProgress, FleetSummary } from "@devreg/firmware-sim";
import { formatTable } from "../output.ts";

/** One status line: the same text live on a TTY and as plain periodic lines in CI. */
export function progressLine(p: FleetProgress): string {
  const ph = p.phases;
  const live = ph.connecting + ph.enrolling + ph.waiting + ph.booting;
  return (
    `sim ${(p.elapsedMs / 1000).toFixed(1)}s  booted ${p.booted}/${p.count}  connected ${p.connected}  ` +
    `in flight ${live}  enrolled ${ph.enrolled}  rejected ${ph.rejected}  deactivated ${ph.deactivated}  failed ${ph.failed}`
  );
}

/** Latency and error tables: names on the left, numbers right-aligned. */
const table = (rows: string[][]) => formatTable(rows, { rightAligned: (i) => i > 0 });

export function summaryTable(s: FleetSummary): string {
  const o = s.outcomes;
  const c = s.counters;
  const lat = s.latencyMs;
  const lines = [
    `devices     ${s.count} (crypto ${s.crypto}) in ${(s.durationMs / 1000).toFixed(1)} s`,
    `outcome     enrolled ${o.enrolled}  rejected ${o.rejected}  deactivated ${o.deactivated}  failed ${o.failed}  unfinished ${o.unfinished}`,
    `rate/s      target ${s.rate.target}  booted ${s.rate.boot}  connected ${s.rate.connect}`,
    `requests    ${c.requests}  busy ${c.busyReplies}  pending ${c.pendingReplies}  error ${c.errorReplies}  timeouts ${c.replyTimeouts}`,
    `connection  connect failures ${c.connectFailures}  disconnects ${c.disconnects}`,
    `replies     verified ${c.verifiedReplies}  refused ${c.refusedReplies}  ignored ${c.ignoredReplies}`,
    "",
    table([
      ["latency (ms)", "n", "p50", "p90", "p99", "max"],
      ...(
        [
          ["publish -> reply", lat.reply],
          ["boot -> final", lat.bootToFinal],
        ] as const
      ).map(([name, p]) => [
        name,
        String(p.count),
        String(p.p50),
        String(p.p90),
        String(p.p99),
        String(p.max),
      ]),
    ]),
  ];
  const retries = Object.entries(s.retries).sort((a, b) => b[1] - a[1]);
  if (retries.length > 0)
    lines.splice(6, 0, `retries     ${retries.map(([k, v]) => `${k} ${v}`).join("  ")}`);
  const errors = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  if (errors.length > 0) {
    lines.push("", table([["not enrolled", "devices"], ...errors.map(([k, v]) => [k, String(v)])]));
  }
  if (s.aborted) lines.push("", `aborted: ${s.aborted.message}`);
  return lines.join("\n");
}
