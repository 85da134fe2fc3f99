import type { EnrollRequest } from "@devreg/protocol";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import { busyReply, jittered } from "../replies.ts";
import type { IncomingRequest } from "./verify-request.ts";

/**
 * Step 3: load shedding before the replay memory and any Kubernetes work. A stopping
 * gateway, an exhausted per-device or gateway-wide rate and too many requests already
 * waiting are answered "busy" at once instead of queueing. Running before the replay
 * check means a flood over the rate limits never reaches the replay memory [PROTO-23a].
 */
export function admit(ctx: EnrollContext, req: EnrollRequest, inc: IncomingRequest): Step<EnrollRequest> {
  const target = { requestId: req.requestId, deviceId: req.deviceId };
  if (ctx.stopping())
    return answer(busyReply(target, "ShuttingDown", jittered(ctx.cfg.busyRetryAfterSeconds)));
  // MQTT charges the per-device bucket before decoding (cheapest shed; its client id is a
  // proven key); HTTP here, once the device id is verified, so that even its "busy" answer is
  // signed. The gateway-wide bucket is charged here for both, after verification: frames that
  // fail it never spend the budget honest devices share (they are bounded per client and
  // disconnected instead [PROTO-24]), so many clients sending garbage cannot starve others.
  if (!inc.rateCharged && !ctx.perDevice.tryTake(req.deviceId)) {
    ctx.refuse("publish_rate", { clientId: req.deviceId, remote: inc.remote });
    return answer(busyReply(target, "RateLimited", ctx.perDevice.secondsUntil(req.deviceId)));
  }
  if (!ctx.global.tryTake()) {
    ctx.refuse("global_rate", { clientId: inc.clientId, remote: inc.remote });
    return answer(busyReply(target, "RateLimited", jittered(ctx.cfg.busyRetryAfterSeconds)));
  }
  if (ctx.board.waiting >= ctx.cfg.limits.maxWaiting) {
    return answer(busyReply(target, "GatewayBusy", jittered(ctx.cfg.busyRetryAfterSeconds)));
  }
  return next(req);
}
