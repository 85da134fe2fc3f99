import { type DeviceRegistration, isKubeError } from "@devreg/kube";
import { type EnrollRequest, registrationNameForDeviceId } from "@devreg/protocol";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import { replyForKubeError } from "../replies.ts";

export interface Gated {
  req: EnrollRequest;
  /** A registration for this key that already exists (read, not written, by this step). */
  existing?: DeviceRegistration;
}

/**
 * Step 5: refusals cost no writes. A key that has no registration, asking while pairing admits no
 * new key (closed, expired, budget spent, or the gateway cannot tell), is answered
 * rejected/PairingDisabled [PROTO-27] here, without any apiserver write: no object, no Event,
 * a count in devreg_gateway_closed_refusals_total. What the operator would decide anyway.
 *
 * - In this replica's cache, or pairing admits new keys, or the key is pre-registered: go on.
 *   (The cache holds only registrations with a phase; one still without is found by the read.)
 * - Otherwise ONE read (GET by name) tells whether another replica or an admin holds a
 *   registration for it; only a 404 is refused. Existing devices keep their answers. The read
 *   is served from the apiserver's watch cache (resourceVersion "0": no etcd round trip); at
 *   worst it lags a registration created a moment ago on another replica, and that device is
 *   told PairingDisabled, which is retryable, once.
 */
export async function gateNewKey(
  ctx: EnrollContext,
  req: EnrollRequest,
  deadline: number,
): Promise<Step<Gated>> {
  const name = registrationNameForDeviceId(req.deviceId);
  if (ctx.board.cached(name)) return next({ req });
  if (ctx.pairing.admits() !== undefined) return next({ req });
  if (ctx.allowlist.allows(Buffer.from(req.publicKey).toString("base64"))) return next({ req });

  const target = { requestId: req.requestId, deviceId: req.deviceId };
  let existing: DeviceRegistration;
  try {
    existing = await ctx.regs.get(name, {
      timeoutMs: Math.max(1, deadline - Date.now()),
      query: { resourceVersion: "0" },
    });
  } catch (e) {
    if (!isKubeError(e, "E_KUBE_NOT_FOUND"))
      return answer(replyForKubeError(target, e, ctx.cfg.busyRetryAfterSeconds));
    const code = ctx.pairing.state()?.code ?? "PairingStateUnknown";
    ctx.metrics.closedRefusals.inc({ code });
    return answer({ ...target, status: "rejected", reason: "PairingDisabled" });
  }
  return next({ req, existing });
}
