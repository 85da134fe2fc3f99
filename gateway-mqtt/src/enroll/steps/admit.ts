import { isDecided } from "@devreg/kube";
import { type EnrollRequest, registrationNameForDeviceId } from "@devreg/protocol";
import type { Transport } from "../../metrics.ts";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import type { IncomingRequest } from "./verify-request.ts";

/**
 * Step 3: load shedding once the request is verified, before the replay memory and any
 * Kubernetes work; the decision is the gateway's one admission point (limits/request-admission.ts).
 */
export function admit(
  ctx: EnrollContext,
  req: EnrollRequest,
  inc: IncomingRequest,
  transport: Transport,
): Step<EnrollRequest> {
  const cached = ctx.board.cached(registrationNameForDeviceId(req.deviceId));
  const busy = ctx.admission.verified(req, transport, inc, isDecided(cached?.status?.phase));
  return busy ? answer(busy) : next(req);
}
