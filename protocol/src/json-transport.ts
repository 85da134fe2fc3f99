import { MAX_REPLY_BYTES, MAX_REQUEST_BYTES } from "./constants.ts";
import {
  fail,
  ok,
  type ProtocolError,
  type ProtocolErrorCode,
  type Result,
  reasonForError,
} from "./errors.ts";
import type { EnrollReply } from "./types.ts";

/**
 * [PROTO-34] HTTP binding: POST /enroll with {"request": base64(frame)}, answered by
 * {"reply": base64(frame), ...decoded reply fields}. The frame is the only authenticated
 * part; the plain fields are a convenience for tools and must not be trusted by devices.
 */
export const MAX_JSON_BODY_BYTES = 4096;

export interface JsonEnrollRequest {
  request: string;
}

export interface JsonEnrollReply extends EnrollReply {
  reply: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Strict RFC 4648 §4 base64 with padding; Buffer.from alone would skip bad characters. */
function fromBase64(s: unknown, field: string, maxBytes: number): Result<Uint8Array> {
  if (typeof s !== "string") return fail("E_WRONG_TYPE", `${field} must be a base64 string`, field);
  if (s.length > Math.ceil(maxBytes / 3) * 4)
    return fail("E_TOO_LARGE", `${field} decodes to over ${maxBytes} bytes`, field);
  if (!BASE64.test(s)) return fail("E_BAD_ENCODING", `${field} is not padded base64`, field);
  const bytes = new Uint8Array(Buffer.from(s, "base64"));
  if (bytes.length > maxBytes)
    return fail("E_TOO_LARGE", `${field} decodes to over ${maxBytes} bytes`, field);
  return ok(bytes);
}

export function encodeJsonEnrollRequest(frame: Uint8Array): JsonEnrollRequest {
  return { request: toBase64(frame) };
}

/** Request frame from a parsed JSON body; the body must be exactly {"request": "..."}. Never throws. */
export function decodeJsonEnrollRequest(body: unknown): Result<Uint8Array> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return fail("E_WRONG_TYPE", "body must be a JSON object", "body");
  }
  const keys = Object.keys(body);
  if (!keys.includes("request")) return fail("E_MISSING_FIELD", "body needs a request field", "request");
  if (keys.length !== 1) return fail("E_EXTRA_FIELD", "body may only contain request", "body");
  return fromBase64((body as { request: unknown }).request, "request", MAX_REQUEST_BYTES);
}

export function encodeJsonEnrollReply(frame: Uint8Array, reply: EnrollReply): JsonEnrollReply {
  return { ...reply, reply: toBase64(frame) };
}

/** The signed reply frame from a JSON reply body (verify it with verifyEnrollReply). Never throws. */
export function decodeJsonEnrollReply(body: unknown): Result<Uint8Array> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return fail("E_WRONG_TYPE", "body must be a JSON object", "body");
  }
  if (!Object.hasOwn(body, "reply")) return fail("E_MISSING_FIELD", "body needs a reply field", "reply");
  return fromBase64((body as { reply: unknown }).reply, "reply", MAX_REPLY_BYTES);
}

export interface JsonErrorBody {
  error: ProtocolErrorCode;
  reason: string;
  message: string;
}

/** [PROTO-34] Unsigned HTTP 400 body for a request that could not be verified. */
export function encodeJsonError(err: ProtocolError): JsonErrorBody {
  return { error: err.code, reason: reasonForError(err), message: err.message };
}
