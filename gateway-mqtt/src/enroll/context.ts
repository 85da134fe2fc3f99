import { type KubeRest, Registrations } from "@devreg/kube";
import { ReplayGuard } from "@devreg/protocol";
import type { LogGate, Logger } from "@devreg/runtime";
import type { RefusalKind } from "../broker/refusals.ts";
import type { GatewayConfig } from "../config.ts";
import type { GatewaySigner } from "../key-store.ts";
import type { RequestAdmission } from "../limits/request-admission.ts";
import { Semaphore } from "../limits/semaphore.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { AllowlistView } from "./allowlist-view.ts";
import type { DecisionBoard } from "./decision-board.ts";
import type { PairingView } from "./pairing-view.ts";
import type { ReplyDraft } from "./replies.ts";

/** Everything the enroll steps share; one per gateway. */
export interface EnrollContext {
  cfg: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
  signer: GatewaySigner;
  regs: Registrations;
  board: DecisionBoard;
  /** Read-only: may a key with no registration reach the operator now? */
  pairing: PairingView;
  /** Read-only: the pre-registered public keys. */
  allowlist: AllowlistView;
  /** Bounds Kubernetes writes in flight. */
  writes: Semaphore;
  replay: ReplayGuard;
  /** Load shedding of verified requests (rates, waiting requests, stopping). */
  admission: RequestAdmission;
  /** Per-kind rate-limited log lines (answers, handler errors). */
  logGate: LogGate;
  /** Records a refusal (metric, log, event). */
  refuse(kind: RefusalKind, fields: { clientId?: string; remote?: string; detail?: string }): void;
}

export interface EnrollContextDeps extends Omit<EnrollContext, "regs" | "writes" | "replay"> {
  rest: KubeRest;
}

/** The context of one gateway: its Kubernetes write bound and its replay memory. */
export function createEnrollContext(deps: EnrollContextDeps): EnrollContext {
  const { rest, ...shared } = deps;
  const { cfg, metrics } = deps;
  const L = cfg.limits;
  const maxSkew = cfg.maxSkewSeconds;
  const replay = new ReplayGuard({
    // [PROTO-23] one memory for requests and CONNECT proofs, capped in total, per device
    // [PROTO-23a] and per remote address [PROTO-23b].
    ...(maxSkew ? { windowSeconds: 2 * maxSkew } : {}),
    maxEntries: L.replayMaxEntries,
    maxPerDevice: L.replayPerDevice,
    maxPerSource: L.replayPerAddress,
  });
  metrics.replaySource = () => ({
    size: replay.size,
    evicted: replay.evicted,
    largestAddress: replay.largestSource,
  });
  return {
    ...shared,
    regs: new Registrations(rest, cfg.namespace),
    writes: new Semaphore(L.maxKubeWritesInFlight, (n) => metrics.writesInFlight.set(n)),
    replay,
  };
}

/**
 * A step either hands its value to the next one or ends the pipeline with the reply to
 * send. Steps never throw for expected failures; the pipeline runner catches the rest.
 */
export type Step<T> = { ok: true; value: T } | { ok: false; reply: ReplyDraft };

export function next<T>(value: T): Step<T> {
  return { ok: true, value };
}

export function answer(reply: ReplyDraft): { ok: false; reply: ReplyDraft } {
  return { ok: false, reply };
}
