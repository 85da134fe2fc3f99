import { describe, expect, it } from "vitest";
import { cpuMsPerOp } from "../result.ts";
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

  it("states each target met, not met or not measured", () => {
    expect(md).toContain(
      "| devreg keeps up with 100/s arrivals | every request ok, >= 95.0/s (95% of the arrival rate), max start lag < 1 s | 200/200 ok, 99.4/s (99.4%), max start lag 0 ms | yes |",
    );
    expect(md).toContain(
      "| gateway CPU per enrollment, devreg burst | <= 1.5 ms | 25.00 ms (isolated 25.00 ms) | **no** |",
    );
    expect(md).toContain("| - | not measured: no operator CPU sample in devreg-burst | n/a |");
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

describe("renderMarkdown diagnostics", () => {
  it("shows apiserver requests per operation, devreg connect times and retries", () => {
    const r = exampleResult();
    r.phases[1]!.apiRequestsPerOp = { "POST deviceregistrations": 1, "POST events": 1 };
    r.phases[1]!.retries = 2;
    r.phases[1]!.connect = { ...r.phases[1]!.latency, p50: 12.5, p99: 40 };
    const md = renderMarkdown(r);
    expect(md).toContain("| devreg-fixed-20 | POST deviceregistrations 1, POST events 1 |");
    expect(md).toContain("devreg-fixed-20 connect p50 12.5 ms, p99 40.0 ms");
    expect(md).toMatch(/\| devreg-fixed-20 \| 20\/s \|.* \| 2 \|$/m);
  });
});

describe("cpuMsPerOp", () => {
  it("divides the CPU of every process by the successful operations", () => {
    // example phases: 10 CPU-seconds over 200 ops
    expect(cpuMsPerOp(exampleResult().phases[0]!)).toBe(50);
    expect(cpuMsPerOp({ cpu: [], ok: 0 })).toBe(0);
  });
});

describe("renderMarkdown gateway limits", () => {
  it("calls out phases and sweep steps where the gateway answered busy or refused", () => {
    const r = exampleResult();
    r.phases[1]!.gatewayCounts = { "answered approved": 190, "answered busy": 10 };
    r.phases[4]!.gatewayCounts = { "answered approved": 200 };
    r.sweep[1]!.gatewayCounts = { "refused connect_rate": 4 };
    const md = renderMarkdown(r);
    expect(md).toContain(
      "- devreg-fixed-20: the gateway counted answered approved × 190, answered busy × 10",
    );
    expect(md).not.toContain("- devreg-burst: the gateway counted");
    expect(md).toContain("- sweep 1000: the gateway counted refused connect_rate × 4");
  });
});

describe("renderMarkdown sweep failures", () => {
  it("lists failed sweep devices by reason", () => {
    const r = exampleResult();
    r.sweep[1]!.failed = 16;
    r.sweep[1]!.failedKinds = { E_TIMEOUT: 16 };
    expect(renderMarkdown(r)).toContain("- sweep 1000: 16 devices failed: E_TIMEOUT × 16");
  });
});
