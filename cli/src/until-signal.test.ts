import { afterEach, describe, expect, it, vi } from "vitest";
import { untilSignal } from "./until-signal.ts";

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe("untilSignal", () => {
  it("stops once on SIGTERM; a second signal exits at once; a failed stop sets exit code 1", async () => {
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
    let stops = 0;
    let fail: (e: Error) => void = () => {};
    const done = untilSignal("the thing", () => {
      stops++;
      return new Promise<void>((_, reject) => {
        fail = reject;
      });
    });
    process.emit("SIGTERM", "SIGTERM");
    process.emit("SIGINT", "SIGINT");
    expect(stops).toBe(1);
    expect(exit).toHaveBeenCalledWith(130);
    fail(new Error("boom"));
    await done;
    expect(process.exitCode).toBe(1);
    process.removeAllListeners("SIGTERM");
    process.removeAllListeners("SIGINT");
  });
});
