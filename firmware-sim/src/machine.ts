/**
 * The virtual MCU as an explicit state machine. `transition` is pure: it takes the state,
 * one event and the environment (time, randomness, settings) and returns the next state
 * plus the effects the driver must carry out. No I/O, no timers: the driver keeps a single
 * timer armed at min(state.wakeAt, state.deadlineAt) and feeds back a "timer" event.
 *
 *   booting --identity--> connecting --connected--> enrolling --approved--> enrolled
 *      |                    ^   |                   |   |  ^  --rejected--> rejected
 *      |                    |   +--connect failed-+  |   |  |  --deactivated--> deactivated
 *      |                    |                     v  v   |  |
 *      |                    +------(not connected)-- waiting <-- busy / pending / error / timeout
 *      |                                             |
 *      +------ identity unusable / deadline / stop --+--> failed   (from any live phase)
 */
import type { EnrollReply } from "@devreg/protocol";
import { reconnectDelayMs, type RetrySettings } from "./backoff.ts";

export type McuPhase =
  | "booting"
  | "connecting"
  | "enrolling"
  | "waiting"
  | "enrolled"
  | "rejected"
  | "deactivated"
  | "failed";

export type FinalPhase = "enrolled" | "rejected" | "deactivated" | "failed";

export function isFinal(phase: McuPhase): phase is FinalPhase {
  return phase === "enrolled" || phase === "rejected" || phase === "deactivated" || phase === "failed";
}

/** Why a device ended in "failed". */
export type FailureReason = "deadline" | "identity" | "bad-request" | "stopped" | "gave-up";

export interface McuCounters {
  requests: number;
  verifiedReplies: number;
  /** Replies that failed verification (forged, unsigned, wrong key, malformed): never acted on. */
  refusedReplies: number;
  /** Verified replies for another requestId or device, or that came too late to matter. */
  ignoredReplies: number;
  /** Verified answers that mean "try again later". */
  busyReplies: number;
  pendingReplies: number;
  /** Only counted with retryRejected; otherwise "rejected" is final. */
  rejectedReplies: number;
  errorReplies: number;
  replyTimeouts: number;
  connectFailures: number;
  disconnects: number;
}

export interface McuState {
  readonly phase: McuPhase;
  readonly bootAt: number;
  readonly deviceId?: string;
  readonly connected: boolean;
  /** Requests published so far; the retry policy's attempt index of the next outcome. */
  readonly attempt: number;
  /** Failed connects / drops since the last good connect: the reconnect backoff exponent. */
  readonly reconnects: number;
  /** The latest request: the only one a non-final answer (busy, pending, error) is taken for. */
  readonly requestId?: string;
  /**
   * The last few requests, latest last. A final answer (approved, rejected, deactivated) to
   * any of them counts: the gateway may publish the operator's decision later under the
   * requestId it answered "pending" [PROTO-31]. Replies naming anything else are ignored.
   */
  readonly recentRequestIds: readonly string[];
  readonly publishedAt?: number;
  /** When the pending timeout or backoff ends (clock ms). */
  readonly wakeAt?: number;
  /** The whole enrollment gives up at this time (clock ms). */
  readonly deadlineAt?: number;
  /** Gateway clock minus device clock, learnt from a verified ClockSkew reply. */
  readonly clockOffsetMs: number;
  readonly deviceUUID?: string;
  /** Final phases: the gateway's reason (rejected) or the FailureReason (failed). */
  readonly reason?: string;
  /** Last transient problem (e.g. "ECONNREFUSED", "busy", "reply-timeout"): explains a give-up. */
  readonly lastError?: string;
  /** Publish of the last request to its verified final reply. */
  readonly replyLatencyMs?: number;
  readonly finishedAt?: number;
  readonly counters: McuCounters;
}

export type McuEvent =
  | { type: "boot" }
  | { type: "identity-loaded"; deviceId: string; deviceUUID?: string }
  /** Something retrying cannot fix: an unusable identity, metadata the codec refuses. */
  | { type: "fatal"; reason: "identity" | "bad-request"; error: string }
  | { type: "connected" }
  | { type: "connect-failed"; error: string }
  | { type: "disconnected"; error?: string }
  /** A reply whose signature verified against the pinned gateway key. */
  | { type: "reply"; reply: EnrollReply }
  /** A frame on the reply topic that did not verify; `code` is the ProtocolError code. */
  | { type: "reply-refused"; code: string }
  | { type: "timer" }
  | { type: "stop" };

export type McuEffect =
  | { type: "load-identity" }
  | { type: "connect" }
  /** Sign and publish a new request with this id and device-clock timestamp (unix seconds). */
  | { type: "publish"; requestId: string; timestamp: number }
  | { type: "save-uuid"; deviceUUID: string }
  | { type: "disconnect" };

export interface MachineSettings extends RetrySettings {
  /** Keep the connection after enrollment to hear an unsolicited deactivation. */
  stayConnected: boolean;
  /**
   * Treat "rejected" as "wait and ask again" (retryAfterSeconds, else 600 s), as SPEC
   * [PROTO-31] has firmware do, instead of a final outcome. Off by default: a simulation
   * run wants to report the rejection.
   */
  retryRejected: boolean;
  /** The whole enrollment, from boot, gives up after this long; undefined = never. */
  deadlineMs?: number;
}

export interface MachineEnv {
  now: number;
  random: () => number;
  newRequestId: () => string;
  settings: MachineSettings;
}

export interface Step {
  state: McuState;
  effects: McuEffect[];
}

const ZERO_COUNTERS: McuCounters = Object.freeze({
  requests: 0,
  verifiedReplies: 0,
  refusedReplies: 0,
  ignoredReplies: 0,
  busyReplies: 0,
  pendingReplies: 0,
  rejectedReplies: 0,
  errorReplies: 0,
  replyTimeouts: 0,
  connectFailures: 0,
  disconnects: 0,
});

export function initialState(now: number): McuState {
  return {
    phase: "booting",
    bootAt: now,
    connected: false,
    attempt: 0,
    reconnects: 0,
    clockOffsetMs: 0,
    recentRequestIds: [],
    counters: ZERO_COUNTERS,
  };
}

/** The time the driver's one timer should fire, if any. */
export function nextWake(s: McuState): number | undefined {
  if (isFinal(s.phase)) return undefined;
  if (s.wakeAt === undefined) return s.deadlineAt;
  if (s.deadlineAt === undefined) return s.wakeAt;
  return Math.min(s.wakeAt, s.deadlineAt);
}

const same = (state: McuState): Step => ({ state, effects: [] });

/** How many past requestIds still count as "ours". */
const RECENT_REQUESTS = 4;

function count(s: McuState, key: keyof McuCounters): McuState {
  return { ...s, counters: { ...s.counters, [key]: s.counters[key] + 1 } };
}

function finish(
  s: McuState,
  phase: FinalPhase,
  reason: string | undefined,
  env: MachineEnv,
  effects: McuEffect[] = [],
): Step {
  const keep = phase === "enrolled" && env.settings.stayConnected && s.connected;
  const state: McuState = {
    ...s,
    phase,
    reason,
    wakeAt: undefined,
    finishedAt: env.now,
    connected: keep,
  };
  // Disconnect even when not connected: a connect may be in flight. The driver's disconnect is idempotent.
  return { state, effects: keep ? effects : [...effects, { type: "disconnect" }] };
}

function sendRequest(s: McuState, env: MachineEnv): Step {
  const requestId = env.newRequestId();
  const timestamp = Math.floor((env.now + s.clockOffsetMs) / 1000);
  const state = count(
    {
      ...s,
      phase: "enrolling",
      requestId,
      recentRequestIds: [...s.recentRequestIds.slice(1 - RECENT_REQUESTS), requestId],
      attempt: s.attempt + 1,
      publishedAt: env.now,
      wakeAt: env.now + env.settings.replyTimeoutMs,
    },
    "requests",
  );
  return { state, effects: [{ type: "publish", requestId, timestamp }] };
}

/** Not connected any more: wait out the reconnect backoff, then connect again. */
function scheduleReconnect(s: McuState, env: MachineEnv, error: string): McuState {
  return {
    ...s,
    phase: "waiting",
    connected: false,
    lastError: error,
    reconnects: s.reconnects + 1,
    wakeAt: env.now + reconnectDelayMs(s.reconnects, env.settings, env.random),
  };
}

/** After an answer that is not final (or a timeout), wait as the retry policy says. */
function scheduleRetry(s: McuState, outcome: EnrollReply | "timeout", env: MachineEnv, error: string): Step {
  // attempt - 1: the index of the request this outcome belongs to (0 for the first).
  const delay = env.settings.retryDelaySeconds(outcome, Math.max(0, s.attempt - 1), env.random);
  const next: McuState = { ...s, lastError: error };
  if (delay === null) return finish(next, "failed", "gave-up", env);
  return same({ ...next, phase: "waiting", wakeAt: env.now + delay * 1000 });
}

function onReply(s: McuState, reply: EnrollReply, env: MachineEnv): Step {
  s = count(s, "verifiedReplies");
  if (s.deviceId !== undefined && reply.deviceId !== s.deviceId) return same(count(s, "ignoredReplies"));
  const ours = reply.requestId !== "" && s.recentRequestIds.includes(reply.requestId);

  // An unsolicited push (no requestId) can end any live or enrolled device. The codec only
  // allows an empty requestId on "error", so the gateway may send the push as an error
  // reply with reason "Deactivated" instead.
  const deactivation =
    reply.status === "deactivated" || (reply.status === "error" && reply.reason === "Deactivated");
  if (deactivation && (reply.requestId === "" || ours)) {
    if (s.phase === "failed" || s.phase === "booting") return same(s);
    return finish({ ...s, deviceUUID: reply.deviceUUID ?? s.deviceUUID }, "deactivated", reply.reason, env);
  }
  if (s.phase !== "enrolling" && s.phase !== "waiting") return same(count(s, "ignoredReplies"));

  const latency = s.publishedAt === undefined ? undefined : env.now - s.publishedAt;
  if (ours && reply.status === "approved") {
    const uuid = reply.deviceUUID!;
    const effects: McuEffect[] = uuid !== s.deviceUUID ? [{ type: "save-uuid", deviceUUID: uuid }] : [];
    return finish({ ...s, deviceUUID: uuid, replyLatencyMs: latency }, "enrolled", undefined, env, effects);
  }
  if (ours && reply.status === "rejected") {
    if (!env.settings.retryRejected)
      return finish({ ...s, replyLatencyMs: latency }, "rejected", reply.reason, env);
    if (s.phase === "waiting") return same(count(s, "ignoredReplies"));
    return scheduleRetry(count(s, "rejectedReplies"), reply, env, `rejected:${reply.reason ?? "unknown"}`);
  }

  // "Try again later" answers only matter for the request in flight. [PROTO-28] An error
  // reply with an empty requestId answers a request the gateway could not read.
  const current = reply.requestId === s.requestId || (reply.requestId === "" && reply.status === "error");
  if (!current || s.phase !== "enrolling") return same(count(s, "ignoredReplies"));
  switch (reply.status) {
    case "pending":
      return scheduleRetry(count(s, "pendingReplies"), reply, env, "pending");
    case "busy":
      return scheduleRetry(count(s, "busyReplies"), reply, env, "busy");
    case "error": {
      // A verified reply to our own request carries the gateway's clock: adopt it so the retry
      // passes the skew check. [PROTO-32]
      const skew = reply.reason === "ClockSkew" && reply.requestId === s.requestId;
      const offset = skew ? reply.timestamp * 1000 - env.now : s.clockOffsetMs;
      const next = count({ ...s, clockOffsetMs: offset }, "errorReplies");
      return scheduleRetry(next, reply, env, `error:${reply.reason ?? "unknown"}`);
    }
    default:
      return same(count(s, "ignoredReplies"));
  }
}

function onTimer(s: McuState, env: MachineEnv): Step {
  if (s.deadlineAt !== undefined && env.now >= s.deadlineAt) return finish(s, "failed", "deadline", env);
  if (s.wakeAt === undefined || env.now < s.wakeAt) return same(s);
  if (s.phase === "enrolling") {
    // Replies came but none verified: that, not the silence, is what to report.
    const error = s.lastError?.startsWith("refused-reply:") ? s.lastError : "reply-timeout";
    return scheduleRetry(count({ ...s, wakeAt: undefined }, "replyTimeouts"), "timeout", env, error);
  }
  if (s.phase === "waiting") {
    if (s.connected) return sendRequest(s, env);
    return { state: { ...s, phase: "connecting", wakeAt: undefined }, effects: [{ type: "connect" }] };
  }
  return same({ ...s, wakeAt: undefined });
}

export function transition(s: McuState, e: McuEvent, env: MachineEnv): Step {
  if (e.type === "stop") {
    if (isFinal(s.phase)) return { state: { ...s, connected: false }, effects: [{ type: "disconnect" }] };
    return finish(s, "failed", "stopped", env);
  }
  if (e.type === "reply-refused") {
    return same({ ...count(s, "refusedReplies"), lastError: `refused-reply:${e.code}` });
  }
  if (e.type === "reply")
    return isFinal(s.phase) && s.phase !== "enrolled" ? same(s) : onReply(s, e.reply, env);
  if (e.type === "disconnected" && isFinal(s.phase)) return same({ ...s, connected: false });
  if (isFinal(s.phase)) return same(s);

  switch (e.type) {
    case "boot": {
      if (s.phase !== "booting") return same(s);
      // The deadline runs from boot, not from construction.
      const deadlineAt =
        env.settings.deadlineMs === undefined ? undefined : env.now + env.settings.deadlineMs;
      return { state: { ...s, bootAt: env.now, deadlineAt }, effects: [{ type: "load-identity" }] };
    }
    case "identity-loaded":
      if (s.phase !== "booting") return same(s);
      return {
        state: { ...s, phase: "connecting", deviceId: e.deviceId, deviceUUID: e.deviceUUID },
        effects: [{ type: "connect" }],
      };
    case "fatal":
      return finish({ ...s, lastError: e.error }, "failed", e.reason, env);
    case "connected":
      if (s.phase !== "connecting") return same(s);
      return sendRequest({ ...s, connected: true, reconnects: 0 }, env);
    case "connect-failed":
      if (s.phase !== "connecting") return same(s);
      return same(scheduleReconnect(count(s, "connectFailures"), env, e.error));
    case "disconnected": {
      const error = e.error ?? "disconnected";
      if (s.phase === "connecting") return same(scheduleReconnect(count(s, "connectFailures"), env, error));
      if (!s.connected) return same(s);
      const dropped = count({ ...s, connected: false }, "disconnects");
      // Backing off already: keep that wait, and reconnect when it ends.
      if (s.phase === "waiting") return same({ ...dropped, lastError: error });
      return same(scheduleReconnect(dropped, env, error));
    }
    case "timer":
      return onTimer(s, env);
  }
  return same(s);
}
