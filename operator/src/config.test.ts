import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveKubeConfig } from "@devreg/kube";
import { readEnv } from "@devreg/runtime";
import { writeKubeconfig } from "../../kube/test-support/kubeconfig-file.ts";
import { optionsFromEnv, parseOperatorConfig } from "./config.ts";

describe("parseOperatorConfig", () => {
  it("fills defaults: client-go lease timings, the default namespace, a unique identity", () => {
    const a = parseOperatorConfig({});
    const b = parseOperatorConfig({});
    expect(a).toMatchObject({
      namespace: "device-operator-system",
      leaseName: "devreg-operator",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      httpPort: 8080,
      logLevel: "info",
      approvalEvents: false,
    });
    expect(a.identity).not.toBe(b.identity);
  });

  it("takes durations as text and numbers as strings (env/flags)", () => {
    const c = parseOperatorConfig({
      leaseDurationMs: "3s",
      renewDeadlineMs: "2s",
      retryPeriodMs: "500ms",
      concurrency: "4",
      httpPort: "0",
    });
    expect(c).toMatchObject({
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
      concurrency: 4,
      httpPort: 0,
    });
  });

  it("lists every problem in one readable line", () => {
    let msg = "";
    try {
      parseOperatorConfig({ concurrency: 0, namespace: "Bad_NS", leaseDurationMs: "soon", bogus: 1 });
    } catch (e) {
      expect((e as { code: string }).code).toBe("E_CONFIG");
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^invalid operator configuration: /);
    expect(msg).toContain("concurrency:");
    expect(msg).toContain("namespace: must be a DNS-1123 label");
    expect(msg).toContain('leaseDurationMs: "soon" is not a duration');
    expect(msg).toContain("bogus");
    expect(msg).not.toContain("\n");
  });

  it("enforces leaseDuration > renewDeadline > 1.2 x retryPeriod", () => {
    expect(() => parseOperatorConfig({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      /leaseDurationMs: must be greater/,
    );
    expect(() => parseOperatorConfig({ renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(
      /renewDeadlineMs/,
    );
  });

  it("reads the environment; POD_NAME and LOG_LEVEL are fallbacks", () => {
    expect(optionsFromEnv(readEnv({ LOG_LEVEL: "debug", DEVREG_LOG_LEVEL: "warn" })).logLevel).toBe("warn");
    expect(optionsFromEnv(readEnv({ LOG_LEVEL: "debug" })).logLevel).toBe("debug");
    const o = optionsFromEnv(
      readEnv({
        DEVREG_NAMESPACE: "fleet",
        DEVREG_OPERATOR_CONCURRENCY: "8",
        POD_NAME: "op-0",
        DEVREG_LEASE_DURATION: "20s",
      }),
    );
    expect(o).toEqual({ namespace: "fleet", concurrency: "8", identity: "op-0", leaseDurationMs: "20s" });
    expect(parseOperatorConfig(o)).toMatchObject({
      namespace: "fleet",
      concurrency: 8,
      identity: "op-0",
      leaseDurationMs: 20_000,
    });
  });

  it("approval Events: off by default, on from a boolean or the env's text; anything else is refused", () => {
    expect(parseOperatorConfig({ approvalEvents: true }).approvalEvents).toBe(true);
    expect(
      parseOperatorConfig(optionsFromEnv(readEnv({ DEVREG_APPROVAL_EVENTS: "true" }))).approvalEvents,
    ).toBe(true);
    expect(
      parseOperatorConfig(optionsFromEnv(readEnv({ DEVREG_APPROVAL_EVENTS: "false" }))).approvalEvents,
    ).toBe(false);
    expect(() => parseOperatorConfig({ approvalEvents: "yes" })).toThrow(/approvalEvents/);
  });

  it("a two-file $KUBECONFIG list reaches the kube client as a list: the first existing file is used", () => {
    const dir = mkdtempSync(join(tmpdir(), "devreg-op-kc-"));
    const second = writeKubeconfig(join(dir, "second"), "http://127.0.0.1:2");
    const cfg = parseOperatorConfig(
      optionsFromEnv(readEnv({ KUBECONFIG: `${join(dir, "none")}:${second}` })),
    );
    expect(cfg.kubeconfig).toBeUndefined();
    expect(resolveKubeConfig(cfg.kubeconfig, cfg.envKubeconfig).origin).toBe(second);
  });
});
