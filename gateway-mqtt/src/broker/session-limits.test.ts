import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CONNACK_NOT_AUTHORIZED } from "./acl.ts";
import { GatewayError } from "../errors.ts";
import { SessionTimers, checkKeepalive, closeReasonOf } from "./session-limits.ts";

describe("closeReasonOf", () => {
  it("names what the session layer ends on its own, and nothing else", () => {
    expect(closeReasonOf(new GatewayError("E_GW_CONNECT_TIMEOUT", "x"))).toBe("connect_timeout");
    expect(closeReasonOf(new GatewayError("E_GW_KEEPALIVE", "x"))).toBe("keepalive_timeout");
    expect(closeReasonOf(new GatewayError("E_GW_PROTOCOL", "x"))).toBe("protocol_error");
    expect(closeReasonOf(new GatewayError("E_GW_SLOW_READER", "x"))).toBe("slow_reader");
    expect(closeReasonOf(new GatewayError("E_GW_REFUSED", "x"))).toBeUndefined();
    expect(closeReasonOf(new Error("ECONNRESET"))).toBeUndefined();
  });
});

describe("checkKeepalive [PROTO-5a]", () => {
  it.each([1, 60, 300])("accepts %i s", (k) => expect(checkKeepalive(k, 300)).toBeNull());
  it.each([0, 301, 65_535])("refuses %i s with CONNACK 5", (k) =>
    expect(checkKeepalive(k, 300)).toMatchObject({ kind: "keepalive", returnCode: CONNACK_NOT_AUTHORIZED }),
  );
});

describe("SessionTimers [PROTO-5a]", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("closes a session once its latest timer runs out; re-arming replaces the old timer", () => {
    const closed: Array<[string, string]> = [];
    const timers = new SessionTimers<{ id: string }>((s, reason) => closed.push([s.id, reason]));
    const a = { id: "a" };
    const b = { id: "b" };
    timers.arm(a, 1_000, "idle");
    timers.arm(b, 1_000, "idle");
    vi.advanceTimersByTime(900);
    timers.arm(a, 5_000, "final_reply");
    vi.advanceTimersByTime(200);
    expect(closed).toEqual([["b", "idle"]]);
    vi.advanceTimersByTime(5_000);
    expect(closed).toEqual([
      ["b", "idle"],
      ["a", "final_reply"],
    ]);
    expect(timers.size).toBe(0);
  });

  it("a cleared session is never closed", () => {
    const close = vi.fn();
    const timers = new SessionTimers<object>(close);
    const s = {};
    timers.arm(s, 10, "idle");
    timers.clear(s);
    vi.advanceTimersByTime(100);
    expect(close).not.toHaveBeenCalled();
  });
});
