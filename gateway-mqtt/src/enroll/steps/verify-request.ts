import {
  type EnrollRequest,
  checkClockSkew,
  decodeEnrollRequest,
  peekRequestId,
  reasonForError,
  statusForError,
} from "@devreg/protocol";
import type { EnrollContext } from "../context.ts";
import { type ReplyDraft, busyReply } from "../replies.ts";
import type { RefusalKind } from "../../broker/refusals.ts";

export interface IncomingRequest {
  frame: Uint8Array;
  /** [PROTO-6] device id of the MQTT topic the frame arrived on; absent over HTTP. */
  topicDeviceId?: string;
  nowSeconds: number;
  clientId?: string;
  remote?: string;
}

export type VerifyResult =
  | { ok: true; value: EnrollRequest }
  /** Fails with a reply addressed to the topic's device… */
  | { ok: false; reply: ReplyDraft }
  /** …or, over HTTP where there is no topic, with nothing to address a reply to. */
  | { ok: false; reply: null; code: string; reason: string; message: string };

/**
 * Steps 1-2, decode and verify: strict CBOR/COSE decode, key-to-topic binding, Ed25519
 * signature (libsodium) and clock skew, in the SPEC §7.3 order, all inside
 * decodeEnrollRequest. [PROTO-24] A failure is answered with an "error" reply carrying
 * the SPEC §11 reason and the request id when one can still be read [PROTO-28] [PROTO-35].
 */
export function verifyRequest(ctx: EnrollContext, inc: IncomingRequest): VerifyResult {
  const clock = { nowSeconds: inc.nowSeconds, maxSkewSeconds: ctx.cfg.maxSkewSeconds };
  const r = decodeEnrollRequest(inc.frame, {
    ...clock,
    expectedDeviceId: inc.topicDeviceId,
    skipClockSkew: true,
  });
  if (r.ok) {
    // [PROTO-34] [PROTO-32] the request passed verification (steps 1–6), so a skewed one is
    // answered with a signed reply over HTTP as over MQTT: the device may set its clock from it.
    const fresh = checkClockSkew(r.value.timestamp, clock);
    if (fresh.ok) return r;
    ctx.refuse("invalid_request", { clientId: inc.clientId, remote: inc.remote, detail: fresh.error.code });
    const target = { requestId: r.value.requestId, deviceId: r.value.deviceId };
    return {
      ok: false,
      reply: {
        ...target,
        status: "error",
        reason: reasonForError(fresh.error),
        message: fresh.error.message,
      },
    };
  }
  const err = r.error;
  const kind: RefusalKind =
    err.code === "E_TOPIC_MISMATCH"
      ? "key_mismatch"
      : err.code === "E_TOO_LARGE"
        ? "payload_too_large"
        : "invalid_request";
  ctx.refuse(kind, { clientId: inc.clientId, remote: inc.remote, detail: err.code });
  const reason = reasonForError(err);
  if (inc.topicDeviceId === undefined)
    return { ok: false, reply: null, code: err.code, reason, message: err.message };
  const target = { requestId: peekRequestId(inc.frame) ?? "", deviceId: inc.topicDeviceId };
  if (statusForError(err) === "busy")
    return { ok: false, reply: busyReply(target, "ReplayCacheFull", ctx.cfg.busyRetryAfterSeconds) };
  // [PROTO-35] reason from the SPEC table; the codec's message says what was wrong (no secrets in it).
  return { ok: false, reply: { ...target, status: "error", reason, message: err.message } };
}
