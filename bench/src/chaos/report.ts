import type { ChaosReport } from "./suite.ts";

/**
 * What fails the suite: an invariant, a re-run that changed something, a deactivation notice
 * that never arrived, a recovery that never happened. Recovery TIMES are reported against
 * their targets, not asserted here: on a loaded 2-core machine they are measurements. Pure.
 */
export function chaosFailures(r: ChaosReport, opts: { deactivation?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const w of r.waves) {
    if (w.injectionError) out.push(`${w.fault}: ${w.injectionError}`);
    for (const v of w.violations) out.push(`${w.fault}: ${v.invariant}: ${v.detail}`);
    for (const f of w.recovery) if (f.ms === undefined) out.push(`${w.fault}: ${f.what}: never (after ${f.from})`);
  }
  for (const c of r.rerun.changes) out.push(`re-run changed ${c}`);
  if (r.rerun.newApprovals > 0) out.push(`re-run minted ${r.rerun.newApprovals} new approvals`);
  if (r.rerun.uuidMismatches > 0) out.push(`re-run: ${r.rerun.uuidMismatches} devices got another UUID`);
  if (opts.deactivation !== false && r.deactivation && r.deactivation.deactivatedWithinMs === undefined)
    out.push(`deactivation never reached a device labelled with dead gateway ${r.deactivation.labelledWith}`);
  if (!/^ready/.test(r.clusterStatusAfter)) out.push(`cluster status after restarts: ${r.clusterStatusAfter}`);
  return out;
}

/** Plain-text report. Pure. */
export function renderChaosReport(r: ChaosReport): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(
    `devreg fault suite: ${o.faults.length} waves x ${o.devicesPerWave} devices at ${o.rate}/s, control-plane pause ${o.pauseMs / 1000} s`,
  );
  lines.push(`control plane up in ${(r.controlPlaneStartMs / 1000).toFixed(1)} s; total ${(r.totalMs / 1000).toFixed(1)} s`);
  lines.push("");
  lines.push("| fault | wave s | recovery | measured | target | HTTP /enroll during fault | violations |");
  lines.push("|---|---|---|---|---|---|---|");
  for (const w of r.waves) {
    const http = w.httpDuringFault ? `${w.httpDuringFault.status} in ${w.httpDuringFault.ms} ms` : "-";
    w.recovery.forEach((f, i) => {
      const ok = f.ms !== undefined && f.ms <= f.targetMs ? "ok" : "MISSED";
      lines.push(
        `| ${i === 0 ? w.fault : ""} | ${i === 0 ? (w.durationMs / 1000).toFixed(1) : ""} | ${f.what}, after ${f.from} | ${f.ms ?? "never"} ms | ≤ ${f.targetMs} ms (${ok}) | ${i === 0 ? http : ""} | ${i === 0 ? w.violations.length : ""} |`,
      );
    });
  }
  for (const w of r.waves.filter((x) => x.tlsDevices)) {
    lines.push("", `${w.fault}: ${w.tlsDevices} of its devices enrolled over mqtts:// (TLS gateway restarted too)`);
  }
  lines.push("");
  const rr = r.rerun;
  lines.push(
    `re-run of ${rr.devices} identities, no fault: ${rr.changes.length} registrations changed, ${rr.newApprovals} new approvals, ${rr.uuidMismatches} UUID mismatches (${(rr.durationMs / 1000).toFixed(1)} s)`,
  );
  if (r.deactivation) {
    const dd = r.deactivation;
    lines.push(
      `deactivation of a device labelled with dead gateway ${dd.labelledWith}: ${dd.deactivatedWithinMs === undefined ? "NEVER ARRIVED" : `${dd.deactivatedWithinMs} ms`}`,
    );
  }
  lines.push(`cluster status after restarts outside it: ${r.clusterStatusAfter}`);
  const failures = chaosFailures(r);
  lines.push(failures.length === 0 ? "invariants: all held" : `FAILED:\n  ${failures.join("\n  ")}`);
  return `${lines.join("\n")}\n`;
}
