import type { Registrations } from "@devreg/kube";
import type { ReplayGuard } from "@devreg/protocol";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { GatewaySigner } from "../key-store.ts";
import type { Semaphore } from "../limits/semaphore.ts";
import type { KeyedBuckets, TokenBucket } from "@devreg/runtime";
import type { LogGate } from "../log.ts";
import type { AllowlistView } from "./allowlist-view.ts";
import type { DecisionBoard } from "./decision-board.ts";
import type { PairingView } from "./pairing-view.ts";
import type { ReplyDraft } from "./replies.ts";
import type { RefusalKind } from "../broker/refusals.ts";

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
  /** Gateway-wide request rate, shared by MQTT and HTTP. */
  global: TokenBucket;
  /** Per-device request rate (limits.publishPerClient), shared by MQTT and HTTP. */
  perDevice: KeyedBuckets;
  /** Per-kind rate-limited log lines (answers, handler errors). */
  logGate: LogGate;
  /** True once stop() has begun. */
  stopping(): boolean;
  /** Records a refusal (metric, log, event). */
  refuse(kind: RefusalKind, fields: { clientId?: string; remote?: string; detail?: string }): void;
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
