import type { EnrollRequest } from "@devreg/protocol";
import type { EnrollContext } from "../context.ts";
import { decisionOf, pendingReason } from "../decision.ts";
import { type ReplyDraft, decidedReply, pendingReply } from "../replies.ts";
import type { Upserted } from "./upsert-registration.ts";

/**
 * Step 7: a decided registration is answered at once (approved ones of a re-enroll with
 * reason AlreadyEnrolled, SPEC §14.4); otherwise wait on the shared
 * informer until the decision or the deadline, then answer "pending, retry after N s" —
 * never silence.
 */
export async function awaitDecision(
  ctx: EnrollContext,
  req: EnrollRequest,
  up: Upserted,
  deadline: number,
): Promise<ReplyDraft> {
  const target = { requestId: req.requestId, deviceId: req.deviceId };
  const now = decisionOf(up.reg);
  // PairingDisabled is not sticky: with pairing open again the operator deletes that rejection
  // (operator/src/cleanup.ts), and the device's next request starts afresh. Say "soon", not "no".
  if (now?.status === "rejected" && now.reason === "PairingDisabled" && ctx.pairing.admits() !== undefined)
    return pendingReply(target, ctx.cfg.pendingRetryAfterSeconds, "Pending");
  if (now) return decidedReply(target, now, up.existed);
  const w = up.foreign
    ? await ctx.board.watchOne(up.name, up.reg.metadata.resourceVersion, deadline)
    : await ctx.board.wait(up.name, deadline);
  if (w.decision) return decidedReply(target, w.decision);
  return pendingReply(target, ctx.cfg.pendingRetryAfterSeconds, pendingReason(w.reg ?? up.reg));
}
