import { type GatewayErrorCode, isGatewayError } from "../errors.ts";
import type { SessionCloseReason } from "../metrics.ts";

const CLOSED_BECAUSE: Partial<Record<GatewayErrorCode, SessionCloseReason>> = {
  E_GW_CONNECT_TIMEOUT: "connect_timeout",
  E_GW_KEEPALIVE: "keepalive_timeout",
  E_GW_PROTOCOL: "protocol_error",
  E_GW_SLOW_READER: "slow_reader",
};

/**
 * The devreg_gateway_sessions_closed_total reason for a session the session layer ended on its
 * own (timeouts, protocol violations, a peer that does not read); undefined for the rest
 * (refusals are counted as refusals, socket errors are the peer's).
 */
export function closeReasonOf(err: unknown): SessionCloseReason | undefined {
  return isGatewayError(err) ? CLOSED_BECAUSE[err.code] : undefined;
}
import { CONNACK_NOT_AUTHORIZED, type ConnectRefusal } from "./acl.ts";

/**
 * [PROTO-5a] The CONNECT keepalive is required and bounded: 0 would let an idle session
 * hold its socket forever, and a huge value nearly as long. Refused with CONNACK 5.
 */
export function checkKeepalive(keepaliveSeconds: number, maxSeconds: number): ConnectRefusal | null {
  if (keepaliveSeconds >= 1 && keepaliveSeconds <= maxSeconds) return null;
  return {
    kind: "keepalive",
    returnCode: CONNACK_NOT_AUTHORIZED,
    message: `keepalive must be 1-${maxSeconds} seconds`,
  };
}

/**
 * One close timer per connected session [PROTO-5a]: a session is closed when it has had
 * nothing to do for a while (no request, no reply to wait for) and soon after its final
 * reply. Each arm() replaces the session's previous timer; timers never keep the process up.
 */
export class SessionTimers<S extends object> {
  private readonly timers = new Map<S, NodeJS.Timeout>();

  constructor(private readonly close: (session: S, reason: SessionCloseReason) => void) {}

  arm(session: S, ms: number, reason: SessionCloseReason): void {
    this.clear(session);
    const t = setTimeout(() => {
      this.timers.delete(session);
      this.close(session, reason);
    }, ms);
    t.unref();
    this.timers.set(session, t);
  }

  clear(session: S): void {
    const t = this.timers.get(session);
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(session);
  }

  get size(): number {
    return this.timers.size;
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
