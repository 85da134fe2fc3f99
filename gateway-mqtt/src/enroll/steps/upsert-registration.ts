import { type DeviceRegistration, LABEL_DEVICE_ID, LABEL_GATEWAY, isKubeError } from "@devreg/kube";
import { type EnrollRequest, registrationNameForDeviceId } from "@devreg/protocol";
import { errorText } from "../../errors.ts";
import { type EnrollContext, type Step, answer, next } from "../context.ts";
import { decisionOf } from "../decision.ts";
import { busyReply, jittered, replyForKubeError } from "../replies.ts";

export interface Upserted {
  name: string;
  /** The latest copy we have: from the informer cache, the create, the GET or the adoption. */
  reg: DeviceRegistration;
  /** It existed before this request (a re-enroll). */
  existed: boolean;
  /** Owned by another replica and not adoptable (RBAC): wait with a single-object watch. */
  foreign?: boolean;
}

function specFor(req: EnrollRequest): DeviceRegistration["spec"] {
  const m = req.metadata;
  const spec: DeviceRegistration["spec"] = {
    publicKey: Buffer.from(req.publicKey).toString("base64"),
    deviceId: req.deviceId,
    model: m.model,
    firmwareVersion: m.firmwareVersion,
  };
  if (m.hardwareRevision !== undefined) spec.hardwareRevision = m.hardwareRevision;
  if (m.serialNumber !== undefined) spec.serialNumber = m.serialNumber;
  return spec;
}

/**
 * Step 6: make sure the DeviceRegistration exists, owned (labelled) by this replica.
 *
 * - Already in this replica's informer cache (a re-enroll here, once the operator has written a
 *   phase): no apiserver call at all.
 * - Otherwise create it [PROTO-3: name = "dev-" + deviceId]; the write takes one of the
 *   bounded slots, and no free slot means "busy" now, not a queue.
 * - 409 AlreadyExists: GET it. It may be this replica's own registration that the operator has
 *   not written yet (the informer does not select those: DecisionBoard), a re-enroll that
 *   landed on another replica, or an admin's object. Ours: wait for it. Another's: a decided
 *   one is answered at once (and adopted in the background); an undecided one is adopted —
 *   its gateway label is set to this replica — so this replica's one informer delivers the
 *   decision. See README "Scale-out".
 */
export async function upsertRegistration(
  ctx: EnrollContext,
  req: EnrollRequest,
  deadline: number,
  /** Already read by the gate step: skip the create, go straight to adoption. */
  known?: DeviceRegistration,
): Promise<Step<Upserted>> {
  const name = registrationNameForDeviceId(req.deviceId);
  const target = { requestId: req.requestId, deviceId: req.deviceId };
  const cached = ctx.board.cached(name);
  if (cached) return next({ name, reg: cached, existed: true });

  const release = ctx.writes.tryAcquire();
  if (!release) {
    ctx.log.debug({ deviceId: req.deviceId }, "kube writes saturated; answering busy");
    return answer(busyReply(target, "GatewayBusy", jittered(ctx.cfg.busyRetryAfterSeconds)));
  }
  const gatewayId = ctx.cfg.gatewayId;
  try {
    let existing: DeviceRegistration;
    if (known) existing = known;
    else {
      const timeoutMs = Math.max(1, deadline - Date.now());
      try {
        const reg = await ctx.regs.create(
          {
            metadata: { name, labels: { [LABEL_DEVICE_ID]: req.deviceId, [LABEL_GATEWAY]: gatewayId } },
            spec: specFor(req),
          },
          { timeoutMs },
        );
        return next({ name, reg, existed: false });
      } catch (e) {
        if (!isKubeError(e, "E_KUBE_ALREADY_EXISTS")) {
          ctx.log.warn({ deviceId: req.deviceId, err: errorText(e) }, "creating the registration failed");
          return answer(replyForKubeError(target, e, ctx.cfg.busyRetryAfterSeconds));
        }
      }
      try {
        existing = await ctx.regs.get(name, { timeoutMs: Math.max(1, deadline - Date.now()) });
      } catch (e) {
        // Deleted between our create and this read: let the device come back in a moment.
        if (isKubeError(e, "E_KUBE_NOT_FOUND")) return answer(busyReply(target, "GatewayBusy", 1));
        return answer(replyForKubeError(target, e, ctx.cfg.busyRetryAfterSeconds));
      }
    }
    if (existing.spec?.publicKey !== Buffer.from(req.publicKey).toString("base64")) {
      // Same name, other key: an object devreg did not derive from this key. Never merge them.
      ctx.log.warn({ deviceId: req.deviceId, name }, "registration name taken by another public key");
      return answer({ ...target, status: "rejected", reason: "KeyConflict" });
    }
    if (existing.metadata.labels?.[LABEL_GATEWAY] === gatewayId)
      return next({ name, reg: existing, existed: true });
    if (decisionOf(existing)) {
      adoptInBackground(ctx, name);
      return next({ name, reg: existing, existed: true });
    }
    try {
      const adopted = await adopt(ctx, name, Math.max(1, deadline - Date.now()));
      return next({ name, reg: adopted, existed: true });
    } catch (e) {
      if (isKubeError(e, "E_KUBE_FORBIDDEN")) {
        // No RBAC `patch` on deviceregistrations: wait through a single-object watch instead.
        ctx.log.warn(
          { deviceId: req.deviceId },
          "cannot adopt (RBAC lacks patch); watching this one registration",
        );
        return next({ name, reg: existing, existed: true, foreign: true });
      }
      ctx.log.warn({ deviceId: req.deviceId, err: errorText(e) }, "adopting the registration failed");
      return answer(replyForKubeError(target, e, ctx.cfg.busyRetryAfterSeconds));
    }
  } finally {
    release();
  }
}

/** Sets this replica's gateway label, so its informer (and deactivation push) covers the device. */
function adopt(ctx: EnrollContext, name: string, timeoutMs: number): Promise<DeviceRegistration> {
  return ctx.regs.patch(
    name,
    { metadata: { labels: { [LABEL_GATEWAY]: ctx.cfg.gatewayId } } },
    { timeoutMs },
  );
}

/** Best effort, and only with a free write slot: the reply never waits for it. */
function adoptInBackground(ctx: EnrollContext, name: string): void {
  const release = ctx.writes.tryAcquire();
  if (!release) return;
  adopt(ctx, name, 10_000)
    .catch((e) => ctx.log.debug({ name, err: errorText(e) }, "background adoption failed"))
    .finally(release);
}
