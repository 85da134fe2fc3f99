import { describe, expect, it } from "vitest";
import { exampleResult } from "./example-result.ts";
import { renderMarkdown, table } from "./markdown.ts";
import { checkTargets } from "./targets.ts";

describe("renderMarkdown", () => {
  const r = exampleResult();
  r.targets = checkTargets(r.phases, r.sweep, 20);
  const md = renderMarkdown(r);

  it("has a row per phase, per sweep point and per target", () => {
    for (const p of r.phases) expect(md).toContain(`| ${p.id} |`);
    expect(md).toMatch(/^\| 100 \| 100 \| 100 \|/m);
    expect(md).toMatch(/^\| 1000 \| 1000 \| 1000 \|/m);
    for (const t of r.targets) expect(md).toContain(t.description);
  });

  it("states the polling interval and the machine load, so readers can judge noise", () => {
    expect(md).toContain("every 1000 ms");
    expect(md).toContain("0.50 at start, 1.50 at end");
  });

  it("is deterministic", () => {
    expect(renderMarkdown(r)).toBe(md);
  });

  it("lists errors by kind", () => {
    const withErr = exampleResult();
    withErr.phases[0]!.errors = 3;
    withErr.phases[0]!.errorKinds = { E_TIMEOUT: 2, E_KUBE_CONFLICT: 1 };
    expect(renderMarkdown(withErr)).toContain("floor-fixed-20 errors: E_TIMEOUT × 2, E_KUBE_CONFLICT × 1");
  });
});

describe("table", () => {
  it("escapes pipes in cells", () => {
    expect(table(["a"], [["x|y"]])).toBe("| a |\n|---|\n| x\\|y |");
  });
});
