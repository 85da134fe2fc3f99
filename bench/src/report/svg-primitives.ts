/** Small, pure building blocks for hand-written SVG charts. */

export type Scale = (x: number) => number;

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

/** Log10 scale; values <= 0 are clamped to the bottom of the domain. */
export function logScale(domain: [number, number], range: [number, number]): Scale {
  const lo = Math.log10(Math.max(domain[0], Number.MIN_VALUE));
  const hi = Math.log10(Math.max(domain[1], domain[0] * 10));
  const lin = linearScale([lo, hi], range);
  return (x) => lin(Math.log10(Math.max(x, domain[0])));
}

/** Decade bounds that contain [min, max] (both > 0). */
export function logDomain(min: number, max: number): [number, number] {
  const lo = 10 ** Math.floor(Math.log10(Math.max(min, 1e-3)));
  let hi = 10 ** Math.ceil(Math.log10(Math.max(max, lo * 10)));
  if (hi <= lo) hi = lo * 10;
  return [lo, hi];
}

/** Ticks at 1, 2 and 5 of each decade inside the domain (1s only when there are many decades). */
export function logTicks([lo, hi]: [number, number]): number[] {
  const decades = Math.round(Math.log10(hi / lo));
  const steps = decades > 3 ? [1] : [1, 2, 5];
  const out: number[] = [];
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const s of steps) {
      const v = d * s;
      if (v >= lo * 0.9999 && v <= hi * 1.0001) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

/** About `count` round ticks from 0 up to at least max. */
export function linearTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number for an SVG attribute: 1 decimal, never NaN or Infinity. */
export function num(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 10) / 10) : "0";
}

export function pathD(points: Array<[number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${num(x)},${num(y)}`).join(" ");
}

export function text(
  x: number,
  y: number,
  content: string,
  attrs: Record<string, string | number> = {},
): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? num(v) : escapeXml(v)}"`)
    .join("");
  return `<text x="${num(x)}" y="${num(y)}"${a}>${escapeXml(content)}</text>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, extra = ""): string {
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="${stroke}"${extra}/>`;
}

/** 1500 -> "1.5k", 0.25 -> "0.25": short labels for axis ticks. */
export function shortNumber(x: number): string {
  if (x >= 1000) return `${Number((x / 1000).toPrecision(3))}k`;
  return String(Number(x.toPrecision(3)));
}
