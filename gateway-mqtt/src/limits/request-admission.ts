import type { EnrollRequest } from "@devreg/protocol";
import { KeyedBuckets, TokenBucket, limitKey } from "@devreg/runtime";
import type { RefusalKind } from "../broker/refusals.ts";
import type { GatewayConfig } from "../config.ts";
import { type ReplyDraft, busyReply, jittered } from "../enroll/replies.ts";
import type { Transport } from "../metrics.ts";

export interface RequestAdmissionDeps {
  cfg: Pick<GatewayConfig, "limits" | "busyRetryAfterSeconds">;
  /** True once the gateway began to stop. */
  stopping(): boolean;
  /** Requests waiting for a decision now. */
  waiting(): number;
  refuse(kind: RefusalKind, fields: { clientId?: string; remote?: string }): void;
}

/** An MQTT request publish, before it is decoded. */
export type PublishAdmission =
  | { kind: "admit" }
  /** Answered at once with a signed "busy" (the frame is only peeked for its request id). */
  | { kind: "shed"; cause: "ShuttingDown" | "RateLimited"; retryAfterSeconds: number }
  /** Over its rate, and this window's "busy" notice was already sent: dropped unanswered. */
  | { kind: "drop" };

/** An HTTP POST /enroll, before its body is read: shed with an unsigned 503 or 429. */
export type HttpAdmission =
  | { kind: "admit" }
  | {
      kind: "shed";
      status: 503 | 429;
      code: "E_SHUTTING_DOWN" | "E_RATE_LIMITED";
      message: string;
      retryAfterSeconds: number;
    };

const ADMIT = { kind: "admit" } as const;

/**
 * The gateway's one admission point for load shedding, MQTT and HTTP alike:
 *
 * - before decoding, per client: an MQTT publish against its client's bucket (the client id is
 *   a key proven at CONNECT, and its device id), an HTTP request against its address's bucket;
 *   a stopping gateway sheds here too;
 * - after verification ({@link verified}): HTTP charges the per-device bucket now that the
 *   device id is known and its "busy" can be signed; then both charge the gateway-wide bucket,
 *   so only verified requests spend what honest devices share (garbage is bounded per client
 *   and disconnected instead [PROTO-24]); then the number of requests waiting.
 *
 * It runs before the replay memory, so a flood over the limits never reaches it [PROTO-23a].
 */
export class RequestAdmission {
  /** Per-device request rate, MQTT and HTTP together (an MQTT client id is its device id). */
  private readonly perDevice: KeyedBuckets;
  /** At most one "busy" notice per client and rate window; further over-rate publishes are dropped. */
  private readonly busyNotices: KeyedBuckets;
  private readonly perAddress: KeyedBuckets;
  private readonly global: TokenBucket;

  constructor(private readonly deps: RequestAdmissionDeps) {
    const L = deps.cfg.limits;
    this.perDevice = new KeyedBuckets(L.publishPerClient, L.maxTrackedKeys);
    this.busyNotices = new KeyedBuckets(
      { ratePerSecond: L.publishPerClient.ratePerSecond, burst: 1 },
      L.maxTrackedKeys,
    );
    this.perAddress = new KeyedBuckets(L.httpPerAddress, L.maxTrackedKeys);
    this.global = new TokenBucket(L.publishGlobal);
  }

  /** An authorized MQTT request publish from `clientId`, before decoding (the cheapest shed). */
  mqttPublish(clientId: string, remote?: string): PublishAdmission {
    if (!this.perDevice.tryTake(clientId)) {
      // [PROTO-42] told "busy" with a retry time once per window, not silently closed, so a
      // device can tell rate limiting from a network fault; the connection stays.
      this.deps.refuse("publish_rate", { clientId, remote });
      if (this.deps.stopping() || !this.busyNotices.tryTake(clientId)) return { kind: "drop" };
      const retryAfterSeconds = Math.max(1, this.perDevice.secondsUntil(clientId));
      return { kind: "shed", cause: "RateLimited", retryAfterSeconds };
    }
    if (this.deps.stopping()) return { kind: "shed", cause: "ShuttingDown", retryAfterSeconds: this.retry() };
    return ADMIT;
  }

  /**
   * [PROTO-34] An HTTP request from `remote` (the raw address), before anything of it is
   * parsed; its bucket is its address's limit key (an IPv6 prefix counts once).
   */
  httpRequest(remote: string): HttpAdmission {
    const retryAfterSeconds = this.deps.cfg.busyRetryAfterSeconds;
    if (this.deps.stopping()) {
      return {
        kind: "shed",
        status: 503,
        code: "E_SHUTTING_DOWN",
        message: "gateway shutting down",
        retryAfterSeconds,
      };
    }
    if (!this.perAddress.tryTake(limitKey(remote, this.deps.cfg.limits.ipv6PrefixLength))) {
      this.deps.refuse("http_rate", { remote });
      const message = "too many requests from this address";
      return { kind: "shed", status: 429, code: "E_RATE_LIMITED", message, retryAfterSeconds };
    }
    return ADMIT;
  }

  /**
   * A request that passed verification: the "busy" to answer it with, or undefined to go on.
   * `decidedInCache`: its registration is decided in this replica's cache, so it is answered
   * with no Kubernetes work and no wait; the gateway-wide bucket and the waiting cap, which
   * guard the apiserver and the waiting requests, do not apply. Its verify is already spent
   * and a "busy" costs the same signature as the answer, so shedding it would save nothing
   * (a reconnect storm of enrolled devices went from 10,000 answers to 614 extra retries at
   * the default 1,000/s, issue 16). The per-device bucket still bounds each device.
   */
  verified(
    req: EnrollRequest,
    transport: Transport,
    from: { clientId?: string; remote?: string },
    decidedInCache = false,
  ): ReplyDraft | undefined {
    const target = { requestId: req.requestId, deviceId: req.deviceId };
    if (this.deps.stopping()) return busyReply(target, "ShuttingDown", this.retry());
    // MQTT charged the per-device bucket at publish (mqttPublish), before decoding.
    if (transport === "http" && !this.perDevice.tryTake(req.deviceId)) {
      this.deps.refuse("publish_rate", { clientId: req.deviceId, remote: from.remote });
      return busyReply(target, "RateLimited", this.perDevice.secondsUntil(req.deviceId));
    }
    if (decidedInCache) return undefined;
    if (!this.global.tryTake()) {
      this.deps.refuse("global_rate", { clientId: from.clientId, remote: from.remote });
      return busyReply(target, "RateLimited", this.retry());
    }
    if (this.deps.waiting() >= this.deps.cfg.limits.maxWaiting) {
      return busyReply(target, "GatewayBusy", this.retry());
    }
    return undefined;
  }

  private retry(): number {
    return jittered(this.deps.cfg.busyRetryAfterSeconds);
  }
}
