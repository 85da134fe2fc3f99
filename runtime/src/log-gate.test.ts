import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { LogGate } from "./log.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

describe("LogGate", () => {
  it("rate-limits lines per kind and reports the suppressed count on the next line", () => {
    vi.useFakeTimers();
    try {
      const { log, lines } = capture();
      const dropped: string[] = [];
      const gate = new LogGate(log, { ratePerSecond: 1, burst: 2 }, (k) => dropped.push(k));
      for (let i = 0; i < 100; i++) gate.line("refused:replay", "info", { i }, "refused");
      gate.line("answered:busy", "info", {}, "enroll answered");
      expect(lines.map((l) => l.msg)).toEqual(["refused", "refused", "enroll answered"]);
      expect(dropped).toHaveLength(98);
      vi.advanceTimersByTime(1_000);
      gate.line("refused:replay", "info", { i: 100 }, "refused");
      expect(lines.at(-1)).toMatchObject({ i: 100, suppressed: 98 });
      gate.line("refused:replay", "info", { i: 101 }, "refused");
      expect(lines).toHaveLength(4);
    } finally {
      vi.useRealTimers();
    }
  });

  it("spends no budget on a disabled level", () => {
    const { log, lines } = capture();
    const gate = new LogGate(log, { ratePerSecond: 1, burst: 1 });
    gate.line("x", "debug", {}, "hidden");
    gate.line("x", "info", {}, "shown");
    expect(lines.map((l) => l.msg)).toEqual(["shown"]);
  });
});
