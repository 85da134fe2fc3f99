import type { EnrollRequest } from "@devreg/protocol";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import { busyReply, jittered } from "../replies.ts";
import type { IncomingRequest } from "./verify-request.ts";

/**
 * Step 4: load shedding before any Kubernetes work. A stopping gateway, an exhausted
 * gateway-wide rate and too many requests already waiting are answered "busy" at once
 * instead of queueing.
 */
export function admit(ctx: EnrollContext, req: EnrollRequest, inc: IncomingRequest): Step<EnrollRequest> {
  const target = { requestId: req.requestId, deviceId: req.deviceId };
  if (ctx.stopping())
    return answer(busyReply(target, "ShuttingDown", jittered(ctx.cfg.busyRetryAfterSeconds)));
  // MQTT charges the gateway-wide bucket before decoding (cheapest shed); HTTP here, so
  // that even its "busy" answer is a signed reply.
  if (!inc.rateCharged && !ctx.global.tryTake()) {
    ctx.refuse("global_rate", { clientId: inc.clientId, remote: inc.remote });
    return answer(busyReply(target, "RateLimited", jittered(ctx.cfg.busyRetryAfterSeconds)));
  }
  if (ctx.board.waiting >= ctx.cfg.limits.maxWaiting) {
    return answer(busyReply(target, "GatewayBusy", jittered(ctx.cfg.busyRetryAfterSeconds)));
  }
  return next(req);
}
