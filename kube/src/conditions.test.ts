import { describe, expect, it } from "vitest";
import { setCondition } from "./conditions.ts";

describe("setCondition", () => {
  const t0 = new Date("2026-01-01T00:00:00.123Z");
  const t1 = new Date("2026-01-01T00:05:00Z");

  it("adds a condition with a second-precision transition time", () => {
    const out = setCondition(undefined, { type: "Approved", status: "True", reason: "R", message: "m" }, t0);
    expect(out).toEqual([
      { type: "Approved", status: "True", reason: "R", message: "m", lastTransitionTime: "2026-01-01T00:00:00Z" },
    ]);
  });

  it("keeps lastTransitionTime when status is unchanged and moves it when status flips", () => {
    const a = setCondition(undefined, { type: "Ready", status: "True", reason: "A", message: "" }, t0);
    const same = setCondition(a, { type: "Ready", status: "True", reason: "B", message: "x" }, t1);
    expect(same[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(same[0]?.reason).toBe("B");
    const flipped = setCondition(same, { type: "Ready", status: "False", reason: "C", message: "" }, t1);
    expect(flipped[0]?.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
    expect(flipped).toHaveLength(1);
  });
});
