import { describe, expect, it } from "vitest";
import { Semaphore } from "./semaphore.ts";

describe("Semaphore", () => {
  it("hands out at most `capacity` slots and never queues", () => {
    const seen: number[] = [];
    const s = new Semaphore(2, (n) => seen.push(n));
    const a = s.tryAcquire();
    const b = s.tryAcquire();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(s.tryAcquire()).toBeNull();
    a!();
    a!(); // idempotent
    expect(s.inUse).toBe(1);
    expect(s.tryAcquire()).not.toBeNull();
    expect(seen).toEqual([1, 2, 1, 2]);
  });

  it("rejects a nonsensical capacity", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
