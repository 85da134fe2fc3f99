import { type EnrollReply, PROTOCOL_VERSION, retryDelaySeconds } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, reconnectDelayMs } from "./backoff.ts";
import {
  initialState,
  type MachineEnv,
  type McuEvent,
  type McuState,
  nextWake,
  type Step,
  transition,
} from "./machine.ts";

const DEV = "0123456789abcdef0123456789abcdef";
const UUID = "11111111-2222-4333-8444-555555555555";

function harness(
  opts: { deadlineMs?: number; stayConnected?: boolean; retryRejected?: boolean; random?: number } = {},
) {
  let now = 1_000_000;
  let ids = 0;
  const env = (): MachineEnv => ({
    now,
    random: () => opts.random ?? 0.5,
    newRequestId: () => `req${++ids}`,
    settings: {
      ...DEFAULT_RETRY,
      stayConnected: opts.stayConnected ?? true,
      retryRejected: opts.retryRejected ?? false,
      deadlineMs: opts.deadlineMs,
    },
  });
  let state: McuState = initialState(now);
  const h = {
    get state() {
      return state;
    },
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
    },
    /** Moves the clock to the machine's next wake-up and delivers the timer event. */
    fireTimer(): Step {
      const at = nextWake(state);
      if (at === undefined) throw new Error("no timer armed");
      now = Math.max(now, at);
      return h.send({ type: "timer" });
    },
    send(e: McuEvent): Step {
      const step = transition(state, e, env());
      state = step.state;
      return step;
    },
    /** boot -> identity -> connected: the first request is out. */
    online(uuid?: string): Step {
      h.send({ type: "boot" });
      h.send({ type: "identity-loaded", deviceId: DEV, deviceUUID: uuid });
      return h.send({ type: "connected" });
    },
    reply(r: Partial<EnrollReply>): Step {
      return h.send({
        type: "reply",
        reply: {
          version: PROTOCOL_VERSION,
          requestId: state.requestId ?? "",
          deviceId: DEV,
          timestamp: Math.floor(now / 1000),
          status: "approved",
          ...r,
        } as EnrollReply,
      });
    },
  };
  return h;
}

describe("state machine: happy path", () => {
  it("boots, loads the identity, connects, publishes and ends enrolled with the UUID saved", () => {
    const h = harness();
    expect(h.send({ type: "boot" }).effects).toEqual([{ type: "load-identity" }]);
    expect(h.send({ type: "identity-loaded", deviceId: DEV }).effects).toEqual([{ type: "connect" }]);
    expect(h.state.phase).toBe("connecting");
    const sent = h.send({ type: "connected" });
    expect(sent.effects).toEqual([
      { type: "publish", requestId: "req1", timestamp: Math.floor(h.now / 1000) },
    ]);
    expect(h.state.phase).toBe("enrolling");
    expect(h.state.wakeAt).toBe(h.now + 30_000); // REPLY_TIMEOUT_SECONDS
    h.advance(120);
    const done = h.reply({ status: "approved", deviceUUID: UUID });
    expect(h.state.phase).toBe("enrolled");
    expect(h.state.deviceUUID).toBe(UUID);
    expect(h.state.replyLatencyMs).toBe(120);
    expect(done.effects).toEqual([{ type: "save-uuid", deviceUUID: UUID }]); // stays connected
    expect(nextWake(h.state)).toBeUndefined();
  });

  it("does not rewrite the identity when the UUID is the one it already knew (reboot)", () => {
    const h = harness();
    h.online(UUID);
    expect(h.reply({ status: "approved", deviceUUID: UUID }).effects).toEqual([]);
    expect(h.state.phase).toBe("enrolled");
  });

  it("disconnects after enrollment when told not to stay connected", () => {
    const h = harness({ stayConnected: false });
    h.online();
    expect(h.reply({ status: "approved", deviceUUID: UUID }).effects).toContainEqual({ type: "disconnect" });
    expect(h.state.connected).toBe(false);
  });

  it("rejected and deactivated are final and disconnect", () => {
    const r = harness();
    r.online();
    expect(r.reply({ status: "rejected", reason: "PairingClosed" }).effects).toEqual([
      { type: "disconnect" },
    ]);
    expect(r.state).toMatchObject({ phase: "rejected", reason: "PairingClosed" });
    const d = harness();
    d.online();
    d.reply({ status: "deactivated", deviceUUID: UUID });
    expect(d.state.phase).toBe("deactivated");
  });

  it("an enrolled device that hears an unsolicited deactivation push becomes deactivated", () => {
    const h = harness();
    h.online();
    h.reply({ status: "approved", deviceUUID: UUID });
    h.reply({ status: "deactivated", deviceUUID: UUID, requestId: "" });
    expect(h.state.phase).toBe("deactivated");
  });

  it("also takes the push in the codec-compatible form: error, reason Deactivated, empty requestId", () => {
    const h = harness();
    h.online();
    h.reply({ status: "error", reason: "Deactivated", deviceUUID: UUID, requestId: "" });
    expect(h.state).toMatchObject({ phase: "deactivated", reason: "Deactivated", deviceUUID: UUID });
  });
});

describe("state machine: replies it must not act on", () => {
  it("ignores a verified reply for another requestId and keeps waiting", () => {
    const h = harness();
    h.online();
    const before = h.state;
    h.reply({ status: "approved", deviceUUID: UUID, requestId: "someone-elses" });
    expect(h.state.phase).toBe("enrolling");
    expect(h.state.wakeAt).toBe(before.wakeAt);
    expect(h.state.counters.ignoredReplies).toBe(1);
  });

  it("ignores a reply naming another device", () => {
    const h = harness();
    h.online();
    h.send({
      type: "reply",
      reply: {
        version: 1,
        requestId: "req1",
        deviceId: "f".repeat(32),
        status: "approved",
        deviceUUID: UUID,
        timestamp: 0,
      },
    });
    expect(h.state.phase).toBe("enrolling");
  });

  it("counts refused (unverified) replies and changes nothing else", () => {
    const h = harness();
    h.online();
    const before = h.state;
    h.send({ type: "reply-refused", code: "E_BAD_SIGNATURE" });
    expect(h.state.counters.refusedReplies).toBe(1);
    expect({ ...h.state, counters: before.counters, lastError: undefined }).toEqual({
      ...before,
      lastError: undefined,
    });
  });
});

describe("state machine: retry and backoff", () => {
  it("busy: waits retryAfterSeconds (+ at most 10 % jitter), then sends a fresh request", () => {
    const h = harness({ random: 0.99 });
    h.online();
    h.reply({ status: "busy", retryAfterSeconds: 20 });
    expect(h.state.phase).toBe("waiting");
    expect(h.state.wakeAt! - h.now).toBe(22_000); // ceil(20 * 1.099)
    h.advance(21_999);
    expect(h.send({ type: "timer" }).effects).toEqual([]); // early timer: nothing
    const again = h.fireTimer();
    expect(again.effects).toEqual([{ type: "publish", requestId: "req2", timestamp: expect.any(Number) }]);
    expect(h.state).toMatchObject({ phase: "enrolling", requestId: "req2", attempt: 2 });
  });

  it("pending: respects retry-after exactly when there is no jitter", () => {
    const h = harness({ random: 0 });
    h.online();
    h.reply({ status: "pending", retryAfterSeconds: 7 });
    expect(h.state.wakeAt! - h.now).toBe(7_000);
  });

  it("reply timeouts back off exponentially from 5 s, capped at 300 s", () => {
    const h = harness({ random: 0 });
    h.online();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      h.fireTimer(); // reply timeout
      expect(h.state.phase).toBe("waiting");
      waits.push((h.state.wakeAt! - h.now) / 1000);
      h.fireTimer(); // backoff over: next request
      expect(h.state.phase).toBe("enrolling");
    }
    expect(waits).toEqual([5, 10, 20, 40, 80, 160, 300, 300, 300]);
    expect(h.state.counters.replyTimeouts).toBe(9);
  });

  it("matches the protocol retry policy for every outcome", () => {
    const h = harness({ random: 0.3 });
    h.online();
    const reply: Partial<EnrollReply> = { status: "error", reason: "Malformed" };
    h.reply(reply);
    const expected = retryDelaySeconds({ ...reply, requestId: "req1" } as EnrollReply, 0, () => 0.3)!;
    expect(h.state.wakeAt! - h.now).toBe(expected * 1000);
  });

  it("a ClockSkew error adopts the gateway clock and retries at once", () => {
    const h = harness();
    h.online();
    const gatewaySeconds = Math.floor(h.now / 1000) + 3600;
    h.reply({ status: "error", reason: "ClockSkew", timestamp: gatewaySeconds });
    expect(h.state.wakeAt).toBe(h.now);
    const retry = h.fireTimer();
    expect(retry.effects[0]).toMatchObject({ type: "publish", timestamp: gatewaySeconds });
  });

  it("connect failures back off with equal jitter, doubling to the cap", () => {
    const h = harness({ random: 1 });
    h.send({ type: "boot" });
    h.send({ type: "identity-loaded", deviceId: DEV });
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      h.send({ type: "connect-failed", error: "ECONNREFUSED" });
      expect(h.state).toMatchObject({ phase: "waiting", lastError: "ECONNREFUSED" });
      waits.push(h.state.wakeAt! - h.now);
      expect(h.fireTimer().effects).toEqual([{ type: "connect" }]);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(reconnectDelayMs(0, DEFAULT_RETRY, () => 0)).toBe(500); // at least half the backoff
    h.send({ type: "connected" });
    expect(h.state.reconnects).toBe(0);
  });

  it("a drop while enrolling reconnects after backoff and sends a new request", () => {
    const h = harness({ random: 0 });
    h.online();
    h.send({ type: "disconnected", error: "ECONNRESET" });
    expect(h.state).toMatchObject({ phase: "waiting", connected: false, lastError: "ECONNRESET" });
    expect(h.state.counters.disconnects).toBe(1);
    expect(h.fireTimer().effects).toEqual([{ type: "connect" }]);
    expect(h.send({ type: "connected" }).effects[0]).toMatchObject({ type: "publish", requestId: "req2" });
  });

  it("a drop while backing off keeps the wait and reconnects when it ends", () => {
    const h = harness({ random: 0 });
    h.online();
    h.reply({ status: "busy", retryAfterSeconds: 10 });
    const wake = h.state.wakeAt;
    h.send({ type: "disconnected" });
    expect(h.state.wakeAt).toBe(wake);
    expect(h.fireTimer().effects).toEqual([{ type: "connect" }]);
  });

  it("a late decision for an earlier request of this device is honoured; a late busy is not", () => {
    const h = harness({ random: 0 });
    h.online();
    h.reply({ status: "pending", retryAfterSeconds: 1 });
    h.fireTimer(); // req2 goes out
    expect(h.state.requestId).toBe("req2");
    h.reply({ status: "busy", retryAfterSeconds: 60, requestId: "req1" });
    expect(h.state).toMatchObject({ phase: "enrolling", requestId: "req2" });
    h.reply({ status: "approved", deviceUUID: UUID, requestId: "req1" });
    expect(h.state).toMatchObject({ phase: "enrolled", deviceUUID: UUID });
  });

  it("with retryRejected, rejected means wait retryAfterSeconds (or 600 s) and ask again", () => {
    const h = harness({ retryRejected: true, random: 0 });
    h.online();
    h.reply({ status: "rejected", reason: "PairingDisabled" });
    expect(h.state).toMatchObject({ phase: "waiting", lastError: "rejected:PairingDisabled" });
    expect(h.state.wakeAt! - h.now).toBe(600_000);
    h.fireTimer();
    h.reply({ status: "rejected", reason: "PairingDisabled", retryAfterSeconds: 30 });
    expect(h.state.wakeAt! - h.now).toBe(30_000);
    expect(h.state.counters.rejectedReplies).toBe(2);
  });

  it("a late approval for the latest request is honoured while backing off", () => {
    const h = harness();
    h.online();
    h.reply({ status: "pending", retryAfterSeconds: 30 });
    h.reply({ status: "approved", deviceUUID: UUID });
    expect(h.state.phase).toBe("enrolled");
  });
});

describe("state machine: giving up", () => {
  it("fails with reason deadline (and the last problem) when the deadline passes", () => {
    const h = harness({ deadlineMs: 60_000, random: 0 });
    h.send({ type: "boot" });
    h.send({ type: "identity-loaded", deviceId: DEV });
    for (;;) {
      h.send({ type: "connect-failed", error: "ECONNREFUSED" });
      h.fireTimer();
      if (h.state.phase === "failed") break;
    }
    expect(h.state).toMatchObject({ phase: "failed", reason: "deadline", lastError: "ECONNREFUSED" });
    expect(h.now).toBe(1_000_000 + 60_000);
  });

  it("the deadline runs from boot, not from when the device was created", () => {
    const h = harness({ deadlineMs: 5_000 });
    h.advance(60_000);
    h.send({ type: "boot" });
    expect(h.state).toMatchObject({ bootAt: h.now, deadlineAt: h.now + 5_000 });
  });

  it("the deadline also bounds a long retry-after", () => {
    const h = harness({ deadlineMs: 10_000 });
    h.online();
    h.reply({ status: "busy", retryAfterSeconds: 3600 });
    expect(nextWake(h.state)).toBe(h.state.deadlineAt);
    h.fireTimer();
    expect(h.state).toMatchObject({ phase: "failed", reason: "deadline", lastError: "busy" });
  });

  it("an unusable identity is fatal; stop ends a live device as failed: stopped", () => {
    const h = harness();
    h.send({ type: "boot" });
    h.send({ type: "fatal", reason: "identity", error: "E_IDENTITY_CORRUPT" });
    expect(h.state).toMatchObject({ phase: "failed", reason: "identity" });
    const s = harness();
    s.online();
    expect(s.send({ type: "stop" }).effects).toEqual([{ type: "disconnect" }]);
    expect(s.state).toMatchObject({ phase: "failed", reason: "stopped" });
  });

  it("final states ignore later events", () => {
    const h = harness();
    h.online();
    h.reply({ status: "rejected", reason: "NotAllowed" });
    const s = h.state;
    h.send({ type: "timer" });
    h.send({ type: "connected" });
    h.reply({ status: "approved", deviceUUID: UUID });
    expect(h.state).toEqual(s);
  });
});
