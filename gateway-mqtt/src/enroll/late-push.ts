import type { Broker } from "../broker/broker.ts";
import type { Reporter } from "../reporter.ts";
import type { EnrollContext } from "./context.ts";
import { decidedReply } from "./replies.ts";
import { sessionPhaseAfter } from "./session-phase.ts";
import { signReply } from "./steps/sign-reply.ts";

export interface LatePushDeps {
  ctx: EnrollContext;
  broker: Broker;
  reporter: Reporter;
  stopping(): boolean;
}

/**
 * SPEC §14.3: after a "pending" answer over MQTT, the decision is published later on the same
 * reply topic with the same requestId, if it comes within latePushMs and the device is still
 * connected. The session then takes the phase of the decision (an approved device may stay).
 */
export class LatePushes {
  constructor(private readonly deps: LatePushDeps) {}

  get enabled(): boolean {
    return this.deps.ctx.cfg.latePushMs > 0;
  }

  /** Follows registration `name` for the device's decision. */
  follow(name: string, deviceId: string, requestId: string): void {
    const { ctx, broker, reporter } = this.deps;
    ctx.board.follow(name, Date.now() + ctx.cfg.latePushMs, ctx.cfg.limits.maxWaiting, (decision) => {
      if (this.deps.stopping() || !broker.client(deviceId)) return;
      const signed = signReply(
        ctx,
        decidedReply({ requestId, deviceId }, decision),
        Math.floor(Date.now() / 1000),
      );
      ctx.metrics.latePushes.inc();
      void broker.publishReply(deviceId, signed.frame).then(() => {
        const { status, reason } = signed.reply;
        const c = broker.client(deviceId);
        if (c) broker.sessionPhase(c, sessionPhaseAfter(status));
        reporter.emit("replied", { transport: "mqtt", deviceId, requestId, status, reason, ms: 0 });
      });
    });
  }
}
