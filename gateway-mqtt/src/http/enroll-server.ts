import http from "node:http";
import type net from "node:net";
import {
  MAX_JSON_BODY_BYTES,
  MAX_REQUEST_BYTES,
  decodeJsonEnrollRequest,
  encodeJsonEnrollReply,
  reasonForError,
} from "@devreg/protocol";
import type { LogGate } from "@devreg/runtime";
import type { RefusalKind } from "../broker/refusals.ts";
import type { GatewayConfig } from "../config.ts";
import type { EnrollResult, IncomingRequest } from "../enroll/pipeline.ts";
import { errorText } from "../errors.ts";
import type { ConnectionLimiter } from "../limits/connection-limiter.ts";
import type { HttpAdmission } from "../limits/request-admission.ts";
import { httpStatusForReply, retryAfterHeader } from "./status.ts";

export interface EnrollHttpDeps {
  /** [PROTO-34] Load shedding before anything is parsed (limits/request-admission.ts). */
  admit(remote: string): HttpAdmission;
  refuse(kind: RefusalKind, fields: { remote?: string; detail?: string }): void;
  /** Total and per-address caps on open HTTP sockets. */
  connections: ConnectionLimiter;
  logGate: LogGate;
  /** Timeouts of the HTTP listener (config `http`). */
  settings: Exclude<GatewayConfig["http"], false>;
  enroll(inc: IncomingRequest): Promise<EnrollResult>;
  replied(info: { deviceId: string; requestId: string; status: string; ms: number }): void;
}

const CBOR = "application/cbor";
/** How long an error response may take to reach a client before its socket is destroyed anyway. */
const ERROR_LINGER_MS = 1_000;

class BodyTooLarge extends Error {}
/** The socket closed (a timeout, or the client left) before the body was complete. */
class ClientGone extends Error {}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(new ClientGone());
    });
  });
}

/** [PROTO-34] The unsigned error body: {"error": "<E_CODE>", "reason": "<Reason>", "message": "…"}. */
function errorBody(
  code: string,
  reason: string,
  message: string,
): { error: string; reason: string; message: string } {
  return { error: code, reason, message };
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    // After an error response Node ends and then destroys the socket (no keep-alive).
    ...(status >= 400 ? { connection: "close" } : {}),
    ...headers,
  });
  res.end(text);
}

/** The media type the client wants back: CBOR only when it asks (Accept) or sent CBOR without Accept. */
function wantsCbor(req: http.IncomingMessage, sentCbor: boolean): boolean {
  const accept = req.headers.accept;
  if (!accept || accept === "*/*") return sentCbor;
  return accept.includes(CBOR) && !accept.includes("application/json");
}

/**
 * [PROTO-34] POST /enroll: the signed request as JSON {"request": base64} or as the raw
 * COSE_Sign1 with Content-Type application/cbor. Same pipeline and reply as MQTT; the
 * status code follows the reply (http/status.ts). JSON replies are
 * {"reply": base64(frame), ...decoded fields}; CBOR replies are the signed frame itself.
 */
export function createEnrollServer(deps: EnrollHttpDeps): http.Server {
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = (req.url ?? "/").split("?")[0];
    if (url !== "/enroll")
      return sendJson(res, 404, errorBody("E_NOT_FOUND", "NotFound", "only POST /enroll is served here"));
    if (req.method !== "POST") {
      return sendJson(res, 405, errorBody("E_METHOD", "MethodNotAllowed", "use POST"), { allow: "POST" });
    }
    const remote = req.socket.remoteAddress ?? "unknown";
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const isCbor = type === CBOR;
    if (!isCbor && type !== "application/json") {
      return sendJson(
        res,
        415,
        errorBody("E_MEDIA_TYPE", "UnsupportedMediaType", `send application/json or ${CBOR}`),
      );
    }
    // [PROTO-34] stopping, before parsing anything: 503 + Retry-After; one address over its
    // own limit: 429 + Retry-After.
    const admitted = deps.admit(remote);
    if (admitted.kind === "shed") {
      return sendJson(res, admitted.status, errorBody(admitted.code, "Busy", admitted.message), {
        "retry-after": String(admitted.retryAfterSeconds),
      });
    }

    let body: Buffer;
    try {
      body = await readBody(req, isCbor ? MAX_REQUEST_BYTES : MAX_JSON_BODY_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        deps.refuse("payload_too_large", { remote });
        return sendJson(res, 413, errorBody("E_TOO_LARGE", "TooLarge", "request body too large"));
      }
      if (e instanceof ClientGone) return;
      throw e;
    }
    let frame: Uint8Array;
    if (isCbor) frame = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        deps.refuse("invalid_request", { remote, detail: "body is not JSON" });
        return sendJson(res, 400, errorBody("E_BAD_ENCODING", "Malformed", "body is not JSON"));
      }
      const decoded = decodeJsonEnrollRequest(parsed);
      if (!decoded.ok) {
        deps.refuse(decoded.error.code === "E_TOO_LARGE" ? "payload_too_large" : "invalid_request", {
          remote,
          detail: decoded.error.code,
        });
        const e = decoded.error;
        return sendJson(
          res,
          e.code === "E_TOO_LARGE" ? 413 : 400,
          errorBody(e.code, reasonForError(e), e.message),
        );
      }
      frame = decoded.value;
    }

    const t0 = performance.now();
    const result = await deps.enroll({ frame, nowSeconds: Math.floor(Date.now() / 1000), remote });
    if (result.kind === "unanswerable") {
      // No verified device id, so no signed reply can be addressed (SPEC: replies name the device).
      const status = result.reason === "TooLarge" ? 413 : result.reason === "Internal" ? 500 : 400;
      return sendJson(res, status, errorBody(result.code, result.reason, result.message));
    }
    const { reply, frame: replyFrame } = result;
    const status = httpStatusForReply(reply);
    const headers: Record<string, string> = {};
    const ra = retryAfterHeader(reply);
    if (ra !== undefined) headers["retry-after"] = ra;
    if (status >= 400) headers.connection = "close";
    if (wantsCbor(req, isCbor)) {
      res.writeHead(status, { "content-type": CBOR, "content-length": replyFrame.byteLength, ...headers });
      res.end(Buffer.from(replyFrame.buffer, replyFrame.byteOffset, replyFrame.byteLength));
    } else {
      sendJson(res, status, encodeJsonEnrollReply(replyFrame, reply), headers);
    }
    deps.replied({
      deviceId: reply.deviceId,
      requestId: reply.requestId,
      status: reply.status,
      ms: performance.now() - t0,
    });
  };

  const t = deps.settings;
  const server = http.createServer(
    {
      headersTimeout: Math.min(t.headersTimeoutMs, t.requestTimeoutMs), // Node requires <=
      requestTimeout: t.requestTimeoutMs,
      keepAliveTimeout: t.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this interval (default 30 s, far past them).
      connectionsCheckingInterval: Math.min(1_000, t.headersTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((e) => {
        deps.logGate.line("handler_error:http", "error", { err: errorText(e) }, "HTTP enroll handler failed");
        if (!res.headersSent)
          sendJson(res, 500, errorBody("E_INTERNAL", "Internal", "internal gateway error"));
        else res.destroy();
      });
    },
  );
  // No traffic either way for this long (e.g. a reply the client never reads): destroyed.
  server.setTimeout(t.socketIdleTimeoutMs);
  // Total and per-address caps, counted from accept to close.
  server.on("connection", (socket: net.Socket) => {
    const remote = socket.remoteAddress ?? "unknown";
    const admission = deps.connections.tryAdmit(remote);
    if (!admission.ok) {
      deps.refuse(admission.kind, { remote });
      socket.destroy();
      return;
    }
    socket.once("close", admission.release);
  });
  // A request the parser refuses or that timed out: answered if the socket can still take
  // it, then destroyed, never left half-closed (a client that never reads would keep it).
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    deps.refuse(timedOut ? "http_timeout" : "http_malformed", {
      remote: (socket as net.Socket).remoteAddress,
      detail: err.code,
    });
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = timedOut ? "408 Request Timeout" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () =>
      socket.destroy(),
    );
    setTimeout(() => socket.destroy(), ERROR_LINGER_MS).unref();
  });
  return server;
}
