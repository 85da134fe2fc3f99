import { type EnrollReply, PROTOCOL_VERSION, encodeEnrollReply } from "@devreg/protocol";
import { errorText } from "../../errors.ts";
import type { EnrollContext } from "../context.ts";
import type { ReplyDraft } from "../replies.ts";

export interface SignedReply {
  reply: EnrollReply;
  frame: Uint8Array;
}

/**
 * Step 8: stamp and sign the reply once; the same bytes go to MQTT or HTTP.
 * [PROTO-25] [PROTO-26] A draft the codec refuses (a bug) becomes an Internal error reply.
 */
export function signReply(ctx: EnrollContext, draft: ReplyDraft, nowSeconds: number): SignedReply {
  const reply: EnrollReply = { version: PROTOCOL_VERSION, timestamp: nowSeconds, ...draft };
  try {
    return { reply, frame: encodeEnrollReply(reply, ctx.signer) };
  } catch (e) {
    ctx.log.error(
      { deviceId: draft.deviceId, status: draft.status, err: errorText(e) },
      "reply refused by the codec",
    );
    const fallback: EnrollReply = {
      version: PROTOCOL_VERSION,
      timestamp: nowSeconds,
      requestId: draft.requestId,
      deviceId: draft.deviceId,
      status: "error",
      reason: "Internal",
    };
    return { reply: fallback, frame: encodeEnrollReply(fallback, ctx.signer) };
  }
}
