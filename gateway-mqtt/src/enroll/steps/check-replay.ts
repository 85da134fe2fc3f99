import { type EnrollRequest, isSourceFull } from "@devreg/protocol";
import { limitKey } from "@devreg/runtime";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import { busyReply, errorReply, jittered } from "../replies.ts";

/**
 * Step 4: [PROTO-23] a (deviceId, nonce) pair is accepted once per replay window. A full
 * replay cache fails closed with "busy" rather than forgetting nonces early; a device over
 * its own cap loses only its own oldest nonces [PROTO-23a]. A remote address holding its
 * cap of nonces gets "busy" too, and only it; that refusal is counted apart [PROTO-23b].
 * `remote` is the raw address (logged as is); its limit key is the source counted.
 */
export function checkReplay(
  ctx: EnrollContext,
  req: EnrollRequest,
  nowSeconds: number,
  clientId?: string,
  remote?: string,
): Step<EnrollRequest> {
  const r = ctx.replay.check(
    req.deviceId,
    req.nonce,
    nowSeconds,
    remote === undefined ? {} : { source: limitKey(remote, ctx.cfg.limits.ipv6PrefixLength) },
  );
  if (r.ok) return next(req);
  const target = { requestId: req.requestId, deviceId: req.deviceId };
  if (r.error.code === "E_REPLAY_CACHE_FULL") {
    const retryAfter = jittered(ctx.cfg.busyRetryAfterSeconds);
    if (isSourceFull(r.error)) {
      ctx.refuse("replay_address_full", {
        clientId: clientId ?? req.deviceId,
        remote,
        detail: r.error.message,
      });
      return answer(busyReply(target, "ReplayAddressFull", retryAfter));
    }
    // Counted like the per-address case: a full memory is what a fresh-key flood aims at.
    ctx.refuse("replay_full", { clientId: clientId ?? req.deviceId, remote, detail: r.error.message });
    return answer(busyReply(target, "ReplayCacheFull", retryAfter));
  }
  ctx.refuse("replay", { clientId: clientId ?? req.deviceId, detail: r.error.code });
  return answer(errorReply(target, "Replay"));
}
