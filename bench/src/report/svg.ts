import type { ProcessRole } from "../procfs/sample.ts";
import type { BenchResult, PhaseResult, SweepPoint, SystemUnderTest } from "../result.ts";
import { TARGETS } from "./targets.ts";
import {
  escapeXml,
  line,
  linearScale,
  linearTicks,
  logDomain,
  logScale,
  logTicks,
  num,
  pathD,
  shortNumber,
  text,
} from "./svg-primitives.ts";

const WIDTH = 900;
const TITLE_H = 28;
const LATENCY_H = 420;
const SWEEP_H = 320;
const FONT = `font-family="sans-serif" font-size="12"`;

const SYSTEM_COLOR: Record<SystemUnderTest, string> = {
  floor: "#555555",
  devreg: "#1f77b4",
  polling: "#d62728",
};
const ROLE_COLOR: Record<ProcessRole, string> = {
  etcd: "#8c564b",
  "kube-apiserver": "#ff7f0e",
  operator: "#2ca02c",
  gateway: "#1f77b4",
  bench: "#7f7f7f",
};

/**
 * The chart of one run: latency percentile curves of every phase (floor vs devreg vs
 * polling), then the scale sweep (gateway RSS per device, and the CPU split per sweep point).
 * Pure: a BenchResult in, an SVG document out.
 */
export function renderSvg(r: BenchResult): string {
  const height = TITLE_H + LATENCY_H + SWEEP_H + 20;
  const m = r.machine;
  const title =
    `devreg bench ${r.startedAt}: ${m.cpus} cores, ${r.cluster.kind} control plane, ` +
    `load average ${m.loadAvgStart.toFixed(1)} → ${m.loadAvgEnd.toFixed(1)}`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(12, 18, title, { fill: "#333333" }),
    latencyPanel(r.phases, TITLE_H),
    rssPanel(r.sweep, TITLE_H + LATENCY_H, 0, WIDTH / 2),
    cpuPanel(r.sweep, TITLE_H + LATENCY_H, WIDTH / 2, WIDTH / 2),
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}

/** x position of a percentile on the "nines" axis: 0, 90, 99, 99.9 are evenly spaced. */
export function ninesX(p: number): number {
  if (p >= 100) return 3.4; // the max, drawn a little right of 99.9
  return Math.abs(Math.log10(1 - Math.min(p, 99.9) / 100));
}

function dashFor(p: PhaseResult, lightRate: number | undefined): string {
  if (p.arrival.mode === "burst") return p.arrival.of === "isolated" ? "8,3,2,3" : "2,3";
  return p.arrival.ratePerSec === lightRate ? "" : "7,3";
}

function latencyPanel(phases: PhaseResult[], top: number): string {
  const m = { l: 60, r: 260, t: 36, b: 44 };
  const plotted = phases.filter((p) => p.latency.curve.length > 0);
  const out: string[] = [`<g transform="translate(0,${num(top)})">`];
  out.push(
    text(m.l, 20, "Latency by percentile (log ms): floor vs devreg vs polling", { "font-weight": "bold" }),
  );
  if (plotted.length === 0) {
    out.push(text(m.l, m.t + 40, "no latency data"), "</g>");
    return out.join("\n");
  }
  const all = plotted.flatMap((p) => p.latency.curve.map((c) => c.ms)).filter((v) => v > 0);
  const domain = logDomain(Math.min(...all), Math.max(...all));
  const x = linearScale([0, ninesX(100)], [m.l, WIDTH - m.r]);
  const y = logScale(domain, [LATENCY_H - m.b, m.t]);
  for (const t of logTicks(domain)) {
    out.push(line(m.l, y(t), WIDTH - m.r, y(t), "#e5e5e5"));
    out.push(text(m.l - 6, y(t) + 4, shortNumber(t), { "text-anchor": "end" }));
  }
  for (const [p, label] of [
    [0, "0%"],
    [50, "50%"],
    [90, "90%"],
    [99, "99%"],
    [99.9, "99.9%"],
    [100, "max"],
  ] as const) {
    out.push(line(x(ninesX(p)), m.t, x(ninesX(p)), LATENCY_H - m.b, "#e5e5e5"));
    out.push(text(x(ninesX(p)), LATENCY_H - m.b + 16, label, { "text-anchor": "middle" }));
  }
  out.push(text((m.l + WIDTH - m.r) / 2, LATENCY_H - 8, "percentile", { "text-anchor": "middle" }));
  out.push(
    text(14, (m.t + LATENCY_H - m.b) / 2, "ms", {
      transform: `rotate(-90 14 ${num((m.t + LATENCY_H - m.b) / 2)})`,
    }),
  );
  const lightRate = plotted
    .map((p) => (p.arrival.mode === "fixed" ? p.arrival.ratePerSec : Infinity))
    .sort((a, b) => a - b)[0];
  plotted.forEach((p, i) => {
    const pts = p.latency.curve.map((c): [number, number] => [x(ninesX(c.p)), y(Math.max(c.ms, domain[0]))]);
    const dash = dashFor(p, lightRate);
    out.push(
      `<path d="${pathD(pts)}" fill="none" stroke="${SYSTEM_COLOR[p.system]}" stroke-width="2"${
        dash ? ` stroke-dasharray="${dash}"` : ""
      }><title>${escapeXml(p.id)}</title></path>`,
    );
    const ly = m.t + 6 + i * 18;
    const lx = WIDTH - m.r + 16;
    out.push(
      `<line x1="${num(lx)}" y1="${num(ly)}" x2="${num(lx + 28)}" y2="${num(ly)}" stroke="${SYSTEM_COLOR[p.system]}" stroke-width="2"${
        dash ? ` stroke-dasharray="${dash}"` : ""
      }/>`,
    );
    out.push(text(lx + 34, ly + 4, `${p.id}  p50 ${p.latency.p50.toFixed(1)} ms`));
  });
  out.push("</g>");
  return out.join("\n");
}

function rssPanel(sweep: SweepPoint[], top: number, left: number, width: number): string {
  const m = { l: 60, r: 20, t: 36, b: 44 };
  const out: string[] = [`<g transform="translate(${num(left)},${num(top)})">`];
  out.push(text(m.l, 20, "Gateway RSS per connected device (KiB)", { "font-weight": "bold" }));
  const pts = [...sweep].sort((a, b) => a.devices - b.devices);
  if (pts.length === 0) {
    out.push(text(m.l, m.t + 40, "no sweep in this run"), "</g>");
    return out.join("\n");
  }
  const xDomain = logDomain(pts[0]!.devices, pts.at(-1)!.devices);
  const yMax = Math.max(TARGETS.rssPerDeviceKiB * 1.2, ...pts.map((s) => s.rssPerDeviceKiB));
  const yTicks = linearTicks(yMax);
  const x = logScale(xDomain, [m.l, width - m.r]);
  const y = linearScale([0, yTicks.at(-1)!], [SWEEP_H - m.b, m.t]);
  for (const t of yTicks) {
    out.push(line(m.l, y(t), width - m.r, y(t), "#e5e5e5"));
    out.push(text(m.l - 6, y(t) + 4, shortNumber(t), { "text-anchor": "end" }));
  }
  for (const t of logTicks(xDomain)) {
    out.push(text(x(t), SWEEP_H - m.b + 16, shortNumber(t), { "text-anchor": "middle" }));
  }
  out.push(text((m.l + width - m.r) / 2, SWEEP_H - 8, "connected devices", { "text-anchor": "middle" }));
  for (const [kib, at] of [
    [TARGETS.rssPerDeviceKiB, TARGETS.sweepDevices],
    [TARGETS.largeRssPerDeviceKiB, TARGETS.largeSweepDevices],
  ] as const) {
    const ty = y(kib);
    out.push(line(m.l, ty, width - m.r, ty, "#d62728", ` stroke-dasharray="5,4"`));
    // Left end: the curve falls towards the target on the right, where a label would collide.
    out.push(text(m.l + 4, ty - 4, `target ${kib} KiB at ${shortNumber(at)}`, { fill: "#d62728" }));
  }
  const coords = pts.map((s): [number, number] => [x(s.devices), y(Math.max(0, s.rssPerDeviceKiB))]);
  out.push(`<path d="${pathD(coords)}" fill="none" stroke="${SYSTEM_COLOR.devreg}" stroke-width="2"/>`);
  pts.forEach((s, i) => {
    const [cx, cy] = coords[i]!;
    out.push(`<circle cx="${num(cx)}" cy="${num(cy)}" r="3.5" fill="${SYSTEM_COLOR.devreg}"/>`);
    out.push(text(cx, cy - 8, s.rssPerDeviceKiB.toFixed(1), { "text-anchor": "middle" }));
  });
  out.push("</g>");
  return out.join("\n");
}

function cpuPanel(sweep: SweepPoint[], top: number, left: number, width: number): string {
  const m = { l: 50, r: 130, t: 36, b: 44 };
  const out: string[] = [`<g transform="translate(${num(left)},${num(top)})">`];
  out.push(text(m.l, 20, "CPU split while enrolling each sweep point (%)", { "font-weight": "bold" }));
  const pts = [...sweep].sort((a, b) => a.devices - b.devices).filter((s) => s.cpu.length > 0);
  if (pts.length === 0) {
    out.push(text(m.l, m.t + 40, "no CPU data"), "</g>");
    return out.join("\n");
  }
  const y = linearScale([0, 100], [SWEEP_H - m.b, m.t]);
  for (const t of [0, 25, 50, 75, 100]) {
    out.push(line(m.l, y(t), width - m.r, y(t), "#e5e5e5"));
    out.push(text(m.l - 6, y(t) + 4, String(t), { "text-anchor": "end" }));
  }
  const slot = (width - m.l - m.r) / pts.length;
  const barW = Math.min(60, slot * 0.6);
  const roles = new Set<ProcessRole>();
  pts.forEach((s, i) => {
    const cx = m.l + slot * (i + 0.5);
    let acc = 0;
    for (const c of s.cpu) {
      roles.add(c.role);
      const y0 = y(acc);
      acc += c.sharePct;
      const y1 = y(Math.min(100, acc));
      out.push(
        `<rect x="${num(cx - barW / 2)}" y="${num(y1)}" width="${num(barW)}" height="${num(Math.max(0, y0 - y1))}" fill="${
          ROLE_COLOR[c.role]
        }"><title>${escapeXml(`${c.role} ${c.sharePct}% (${c.cpuSeconds} s)`)}</title></rect>`,
      );
    }
    out.push(text(cx, SWEEP_H - m.b + 16, shortNumber(s.devices), { "text-anchor": "middle" }));
  });
  out.push(text((m.l + width - m.r) / 2, SWEEP_H - 8, "devices", { "text-anchor": "middle" }));
  [...roles].forEach((role, i) => {
    const ly = m.t + i * 18;
    out.push(
      `<rect x="${num(width - m.r + 12)}" y="${num(ly)}" width="12" height="12" fill="${ROLE_COLOR[role]}"/>`,
    );
    out.push(text(width - m.r + 30, ly + 10, role));
  });
  out.push("</g>");
  return out.join("\n");
}
