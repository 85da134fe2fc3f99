import { peekRequestId } from "@devreg/protocol";
import { errorText } from "../errors.ts";
import type { Transport } from "../metrics.ts";
import type { EnrollContext } from "./context.ts";
import { type ReplyDraft, busyReply, errorReply } from "./replies.ts";
import { admit } from "./steps/admit.ts";
import { awaitDecision } from "./steps/await-decision.ts";
import { checkReplay } from "./steps/check-replay.ts";
import { gateNewKey } from "./steps/gate-new-key.ts";
import { type SignedReply, signReply } from "./steps/sign-reply.ts";
import { upsertRegistration } from "./steps/upsert-registration.ts";
import { type IncomingRequest, verifyRequest } from "./steps/verify-request.ts";

export type { IncomingRequest } from "./steps/verify-request.ts";

export type EnrollResult =
  /** `pendingName`: set on a "pending" answer — the registration a late decision may come for. */
  /** `invalid`: the request failed verification [PROTO-24] (MQTT counts these per client). */
  | ({ kind: "reply"; pendingName?: string; invalid?: true } & SignedReply)
  /** HTTP only: the request was unreadable, so there is no device to address a reply to. */
  | { kind: "unanswerable"; code: string; reason: string; message: string };

type Unanswerable = { unanswerable: true; code: string; reason: string; message: string };
type Drafted = ReplyDraft | Unanswerable;
type Seen = { target?: ReplyDraft; name?: string; invalid?: boolean };

/**
 * The enroll path, one named step after another:
 *   decode+verify → admit (shed) → check replay → gate new keys → upsert registration
 *   → await decision → sign reply
 * Every exit is a reply (or, over HTTP, a plain 400): nothing is dropped silently, and
 * nothing thrown inside escapes to the transport's event handlers.
 */
async function draftReply(
  ctx: EnrollContext,
  inc: IncomingRequest,
  transport: Transport,
  deadline: number,
  seen: Seen,
): Promise<Drafted> {
  const verified = verifyRequest(ctx, inc);
  if (!verified.ok) {
    seen.invalid = true;
    return (
      verified.reply ?? {
        unanswerable: true,
        code: verified.code,
        reason: verified.reason,
        message: verified.message,
      }
    );
  }
  const req = verified.value;
  seen.target = { requestId: req.requestId, deviceId: req.deviceId, status: "error" };

  const admitted = admit(ctx, req, inc, transport);
  if (!admitted.ok) return admitted.reply;
  const fresh = checkReplay(ctx, admitted.value, inc.nowSeconds, inc.clientId, inc.remote);
  if (!fresh.ok) return fresh.reply;
  const gated = await gateNewKey(ctx, fresh.value, deadline);
  if (!gated.ok) return gated.reply;
  const upserted = await upsertRegistration(ctx, gated.value.req, deadline, gated.value.existing);
  if (!upserted.ok) return upserted.reply;
  seen.name = upserted.value.name;
  return awaitDecision(ctx, req, upserted.value, deadline);
}

export async function runEnroll(
  ctx: EnrollContext,
  inc: IncomingRequest,
  transport: Transport,
): Promise<EnrollResult> {
  const t0 = performance.now();
  const deadline = Date.now() + ctx.cfg.decisionTimeoutMs;
  const seen: Seen = {};
  let drafted: Drafted;
  try {
    drafted = await draftReply(ctx, inc, transport, deadline, seen);
  } catch (e) {
    ctx.logGate.line(
      "handler_error:enroll_step",
      "error",
      { deviceId: seen.target?.deviceId ?? inc.topicDeviceId, err: errorText(e) },
      "enroll step failed",
    );
    const deviceId = seen.target?.deviceId ?? inc.topicDeviceId;
    drafted =
      deviceId === undefined
        ? { unanswerable: true, code: "E_INTERNAL", reason: "Internal", message: "internal gateway error" }
        : errorReply({ requestId: seen.target?.requestId ?? "", deviceId }, "Internal");
  }
  if ("unanswerable" in drafted) {
    ctx.metrics.enrollments.inc({ outcome: "error", transport });
    return { kind: "unanswerable", code: drafted.code, reason: drafted.reason, message: drafted.message };
  }
  const signed = signReply(ctx, drafted, Math.floor(Date.now() / 1000));
  const seconds = (performance.now() - t0) / 1000;
  const outcome = signed.reply.status;
  ctx.metrics.enrollments.inc({ outcome, transport });
  ctx.metrics.latency.observe({ outcome, transport }, seconds);
  const fields = {
    transport,
    deviceId: signed.reply.deviceId,
    requestId: signed.reply.requestId,
    status: outcome,
    reason: signed.reply.reason,
    ms: Math.round(seconds * 1e4) / 10,
  };
  ctx.logGate.line(
    `answered:${outcome}`,
    outcome === "error" || outcome === "busy" ? "info" : "debug",
    fields,
    "enroll answered",
  );
  const result: EnrollResult = { kind: "reply", ...signed };
  if (outcome === "pending" && seen.name !== undefined) result.pendingName = seen.name;
  if (seen.invalid) result.invalid = true;
  return result;
}

/**
 * Answers "busy" without verifying anything: the MQTT shed path (a client over its rate, a
 * stopping gateway), so overload costs a CBOR peek and one signature, not a verification and
 * a Kubernetes write. Only for requests with a known device id (the MQTT topic's).
 */
export function shedRequest(
  ctx: EnrollContext,
  inc: IncomingRequest & { topicDeviceId: string },
  transport: Transport,
  reason: "RateLimited" | "ShuttingDown",
  retryAfterSeconds: number,
): SignedReply {
  const requestId = peekRequestId(inc.frame) ?? "";
  const draft: ReplyDraft =
    requestId === ""
      ? errorReply({ requestId, deviceId: inc.topicDeviceId }, "Busy", "gateway busy")
      : busyReply({ requestId, deviceId: inc.topicDeviceId }, reason, retryAfterSeconds);
  if (draft.status === "error") draft.retryAfterSeconds = retryAfterSeconds;
  const signed = signReply(ctx, draft, inc.nowSeconds);
  ctx.metrics.enrollments.inc({ outcome: signed.reply.status, transport });
  ctx.metrics.latency.observe({ outcome: signed.reply.status, transport }, 0);
  return signed;
}
