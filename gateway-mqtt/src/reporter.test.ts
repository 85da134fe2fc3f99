import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { GatewayMetrics } from "./metrics.ts";
import { Reporter } from "./reporter.ts";

function capturedLog(): { lines: Array<Record<string, unknown>>; log: pino.Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level: "info" }, sink) };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("Reporter", () => {
  it("counts every takeover but logs them through the per-kind gate", async () => {
    const { lines, log } = capturedLog();
    const metrics = new GatewayMetrics("gw-test");
    const reporter = new Reporter(log, metrics, { ratePerSecond: 0.001, burst: 3 });
    const emitted: string[] = [];
    reporter.events.on("takeover", (t) => emitted.push(t.clientId));
    for (let i = 0; i < 50; i++) reporter.takeover(`dev-${i}`, "127.0.0.1");
    await flush();
    const takeoverLines = lines.filter((l) => String(l.msg).startsWith("session takeover"));
    expect(takeoverLines).toHaveLength(3);
    expect(takeoverLines[0]).toMatchObject({ clientId: "dev-0", remote: "127.0.0.1", level: 40 });
    expect(emitted).toHaveLength(50);
    expect((await metrics.takeovers.get()).values[0]?.value).toBe(50);
    const suppressed = (await metrics.logLinesSuppressed.get()).values.find(
      (v) => v.labels.kind === "takeover",
    );
    expect(suppressed?.value).toBe(47);
  });
});
