import { describe, expect, it } from "vitest";
import { exampleResult } from "./example-result.ts";
import { escapeXml, linearTicks, logDomain, logTicks, shortNumber } from "./svg-primitives.ts";
import { ninesX, renderSvg } from "./svg.ts";

/** Checks that every element is closed in order: enough to catch a broken generator. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe("renderSvg", () => {
  it("draws one latency curve per phase, the RSS curve with its target, and a CPU bar per sweep point", () => {
    const r = exampleResult();
    const svg = renderSvg(r);
    assertWellFormed(svg);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    for (const p of r.phases) expect(svg).toContain(`<title>${p.id}</title>`);
    expect(svg).toContain("target 20 KiB at 10k");
    expect(svg).toContain("target 10 KiB at 100k");
    // 2 sweep points × 5 processes
    expect(svg.match(/<rect x=[^>]*><title>/g)).toHaveLength(10);
  });

  it("renders an empty run without NaN", () => {
    const svg = renderSvg(exampleResult({ phases: [], sweep: [] }));
    assertWellFormed(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).toContain("no latency data");
    expect(svg).toContain("no sweep in this run");
  });

  it("escapes text", () => {
    expect(escapeXml(`<a & "b">`)).toBe("&#60;a &#38; &#34;b&#34;&#62;");
  });
});

describe("scales and ticks", () => {
  it("spaces 0, 90, 99 and 99.9 evenly on the nines axis", () => {
    expect(ninesX(0)).toBe(0);
    expect(ninesX(90)).toBeCloseTo(1);
    expect(ninesX(99)).toBeCloseTo(2);
    expect(ninesX(99.9)).toBeCloseTo(3);
    expect(ninesX(100)).toBeGreaterThan(3);
  });

  it("makes decade domains and round ticks", () => {
    expect(logDomain(0.4, 1800)).toEqual([0.1, 10_000]);
    expect(logTicks([1, 100])).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks([0.1, 10_000])).toEqual([0.1, 1, 10, 100, 1000, 10_000]);
    expect(linearTicks(24)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(shortNumber(10_000)).toBe("10k");
    expect(shortNumber(0.5)).toBe("0.5");
  });
});
