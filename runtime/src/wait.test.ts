import { describe, expect, it } from "vitest";
import { waitFor, within } from "./wait.ts";

describe("waits", () => {
  it("within tells settled from not settled", async () => {
    expect(await within(Promise.resolve(1), 50)).toBe(true);
    expect(await within(Promise.reject(new Error("x")), 50)).toBe(true);
    expect(await within(new Promise(() => {}), 20)).toBe(false);
  });

  it("waitFor resolves when the condition holds and names what timed out", async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, { timeoutMs: 1000, intervalMs: 1 });
    expect(n).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 20, what: "sync" })).rejects.toMatchObject({
      code: "E_TIMEOUT",
      message: expect.stringContaining("sync"),
    });
    await waitFor(() => false, { timeoutMs: 1000, abort: () => true });
  });

  it("waitFor takes an async condition, its errors, and the caller's timeout error", async () => {
    let n = 0;
    await waitFor(async () => ++n >= 2, { timeoutMs: 1000, intervalMs: 1 });
    expect(n).toBe(2);
    const mine = new Error("mine");
    await expect(waitFor(async () => false, { timeoutMs: 10, onTimeout: () => mine })).rejects.toBe(mine);
    const broken = new Error("probe broke");
    await expect(
      waitFor(
        async () => {
          throw broken;
        },
        { timeoutMs: 1000 },
      ),
    ).rejects.toBe(broken);
  });
});
