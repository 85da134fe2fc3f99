import { describe, expect, it } from "vitest";
import {
  DEFAULT_SIGN_IN_LIMITS,
  type SignInDecision,
  SignInAdmission,
  type SignInLimits,
} from "./sign-in-admission.ts";

function admission(limits: Partial<SignInLimits> = {}) {
  const clock = { t: 1_000_000 };
  const a = new SignInAdmission({ ...DEFAULT_SIGN_IN_LIMITS, ...limits }, () => clock.t);
  /** One attempt that finishes at once (admitted attempts release their slot). */
  const once = (address: string): SignInDecision => {
    const d = a.attempt(address);
    if (d.kind === "admit") d.release();
    return d;
  };
  return { a, clock, once };
}

describe("sign-in admission", () => {
  it("an address gets its burst (failed and successful alike), then 429 with the seconds until its next token", () => {
    const { a, clock, once } = admission();
    for (let i = 0; i < 10; i++) expect(once("10.0.0.1").kind).toBe("admit");
    const refused = once("10.0.0.1");
    expect(refused).toEqual({
      kind: "refuse",
      reason: "address_rate",
      retryAfterSeconds: 6,
      message: "too many sign-in attempts from your address; try again in 6 s",
    });
    expect(once("10.0.0.2").kind).toBe("admit"); // another address is not held back
    clock.t += 5_500;
    expect(once("10.0.0.1")).toMatchObject({ reason: "address_rate", retryAfterSeconds: 1 });
    clock.t += 500;
    expect(once("10.0.0.1").kind).toBe("admit");
    expect(once("10.0.0.1").kind).toBe("refuse");
    expect(a.refused).toEqual({ address_rate: 3, global_rate: 0, busy: 0 });
    expect(a.refusedTotal).toBe(3);
  });

  it("bounds the dashboard as a whole: many addresses share one bucket", () => {
    const { a, clock, once } = admission({ global: { burst: 3, ratePerSecond: 0.5 } });
    expect(["a", "b", "c"].map((x) => once(x).kind)).toEqual(["admit", "admit", "admit"]);
    expect(once("d")).toMatchObject({ kind: "refuse", reason: "global_rate", retryAfterSeconds: 2 });
    clock.t += 2_000;
    expect(once("d").kind).toBe("admit");
    expect(a.refused.global_rate).toBe(1);
  });

  it("an address over its own rate spends nothing shared", () => {
    const { once } = admission({
      perAddress: { burst: 2, ratePerSecond: 0 },
      global: { burst: 3, ratePerSecond: 0 },
    });
    for (let i = 0; i < 50; i++) once("attacker");
    // Only the attacker's two admitted attempts came out of the dashboard-wide bucket.
    expect(once("honest").kind).toBe("admit");
    expect(once("honest2")).toMatchObject({ kind: "refuse", reason: "global_rate" });
  });

  it("at most `inFlight` checks at once: one more is answered busy at once, and a released slot is free again", () => {
    const { a } = admission({ inFlight: 2 });
    const first = a.attempt("a");
    const second = a.attempt("b");
    expect([first.kind, second.kind]).toEqual(["admit", "admit"]);
    expect(a.inFlight).toBe(2);
    const busy = a.attempt("c");
    expect(busy).toEqual({
      kind: "refuse",
      reason: "busy",
      retryAfterSeconds: 1,
      message: "2 sign-ins are being checked; try again in 1 s",
    });
    if (first.kind === "admit") {
      first.release();
      first.release(); // releasing twice frees one slot, not two
    }
    expect(a.inFlight).toBe(1);
    const third = a.attempt("c");
    expect(third.kind).toBe("admit");
    expect(a.attempt("d").kind).toBe("refuse");
    expect(a.inFlight).toBe(2);
  });

  it("a busy answer spends the address's token but no dashboard-wide token", () => {
    const { a } = admission({
      inFlight: 1,
      perAddress: { burst: 2, ratePerSecond: 0 },
      global: { burst: 2, ratePerSecond: 0 },
    });
    const held = a.attempt("a");
    expect(held.kind).toBe("admit");
    expect(a.attempt("b")).toMatchObject({ reason: "busy" });
    if (held.kind === "admit") held.release();
    expect(a.attempt("b").kind).toBe("admit"); // the global bucket still had its second token
    expect(a.attempt("b")).toMatchObject({ reason: "address_rate" }); // b spent its two: busy counted
  });

  it("an IPv6 /64 is one address, and so are an IPv4 address and its IPv4-mapped form", () => {
    const { once } = admission({ perAddress: { burst: 1, ratePerSecond: 0 } });
    expect(once("2001:db8:1:2::1").kind).toBe("admit");
    expect(once("2001:DB8:1:2:a:b:c:d")).toMatchObject({ reason: "address_rate" });
    expect(once("2001:db8:1:3::1").kind).toBe("admit"); // the next /64
    expect(once("::ffff:192.0.2.1").kind).toBe("admit"); // a dual-stack listener's view
    expect(once("192.0.2.1")).toMatchObject({ reason: "address_rate" });
  });

  it("remembers a bounded number of addresses", () => {
    const { a, once } = admission({ trackedAddresses: 2, perAddress: { burst: 1, ratePerSecond: 0 } });
    expect(once("x").kind).toBe("admit");
    expect(once("x").kind).toBe("refuse");
    once("y");
    once("z"); // x, the least recently used, is forgotten (the global bucket still bounds the total)
    expect(once("x").kind).toBe("admit");
    expect(a.refused.address_rate).toBe(1);
  });
});
