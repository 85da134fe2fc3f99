import { describe, expect, it } from "vitest";
import { Lifecycle } from "./lifecycle.ts";

describe("Lifecycle", () => {
  it("stops last-registered first, once, and goes on past a failing or hanging step", async () => {
    const lc = new Lifecycle();
    const order: string[] = [];
    lc.onStop("a", () => order.push("a"));
    lc.onStop("b", () => {
      throw new Error("b broke");
    });
    lc.onStop("c", () => new Promise(() => {}), 30);
    lc.onStop("d", async () => {
      order.push("d");
    });
    expect(lc.stopping).toBe(false);
    const first = lc.stop();
    expect(lc.stopping).toBe(true);
    expect(lc.stop()).toBe(first);
    await first;
    expect(order).toEqual(["d", "a"]);
  });

  it("runs a step registered after stop began", async () => {
    const lc = new Lifecycle();
    await lc.stop();
    let ran = false;
    lc.onStop("late", () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(ran).toBe(true);
  });
});
