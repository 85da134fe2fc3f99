import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { startChild } from "./child-process.ts";

// A restarted component appends to its predecessor's log (issue 17's fault suite): the old
// incarnation's "ready" line must not mark the new one ready before it printed its own.
it("only the new incarnation's output can say ready, not lines already in the shared log", async () => {
  const logFile = join(mkdtempSync(join(tmpdir(), "child-")), "c.log");
  writeFileSync(logFile, "ready 1\n");
  const t0 = Date.now();
  const { child, info } = await startChild({
    name: "c",
    command: process.execPath,
    args: ["-e", "setTimeout(() => console.log('ready 2'), 300); setTimeout(() => {}, 5000)"],
    ready: (l) => (l.startsWith("ready") ? l : undefined),
    timeoutMs: 10_000,
    logFile,
  });
  await child.stop(1000);
  expect(info).toBe("ready 2");
  expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
});
