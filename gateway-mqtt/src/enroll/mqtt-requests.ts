import { KeyedBuckets } from "@devreg/runtime";
import type { Client, PublishPacket, SessionPhase } from "../broker/broker.ts";
import { errorText } from "../errors.ts";
import type { PublishAdmission } from "../limits/request-admission.ts";
import type { EnrollServiceDeps } from "./enroll-service.ts";
import { LatePushes } from "./late-push.ts";
import { type EnrollResult, type IncomingRequest, runEnroll, shedRequest } from "./pipeline.ts";
import { sessionPhaseAfter } from "./session-phase.ts";

type MqttRequest = IncomingRequest & { topicDeviceId: string; clientId: string };

/**
 * The MQTT requests the broker authorized: admitted, run through the pipeline, answered on the
 * device's reply topic, the session's phase set from the answer; after a "pending" answer the
 * late decision follows (LatePushes). `track` counts each in flight.
 */
export class MqttRequests {
  /** [PROTO-24] Verification failures a client may cause before it is disconnected. */
  private readonly invalidPerClient: KeyedBuckets;
  private readonly late: LatePushes;

  constructor(
    private readonly deps: EnrollServiceDeps,
    private readonly track: <T>(p: Promise<T>) => Promise<T>,
  ) {
    const L = deps.ctx.cfg.limits;
    this.invalidPerClient = new KeyedBuckets(L.invalidPerClient, L.maxTrackedKeys);
    this.late = new LatePushes(deps);
  }

  /** The broker's "request" event: one authorized enroll request. */
  readonly request = (client: Client, packet: PublishPacket, remote: string): void => {
    const { ctx, broker } = this.deps;
    const deviceId = client.id;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const inc: MqttRequest = {
      frame: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
      topicDeviceId: deviceId,
      nowSeconds: Math.floor(Date.now() / 1000),
      clientId: deviceId,
      remote,
    };
    const admitted = this.deps.admission.mqttPublish(deviceId, remote);
    if (admitted.kind === "drop") return;
    if (admitted.kind === "shed") {
      this.shed(client, inc, admitted);
      return;
    }
    broker.requestStarted(client);
    const t0 = performance.now();
    let phase: SessionPhase = "final";
    void this.track(runEnroll(ctx, inc, "mqtt"))
      .then(async (r) => {
        if (r.kind === "reply") phase = await this.answer(client, inc, r, t0);
      })
      .catch((e) =>
        ctx.logGate.line(
          "handler_error:mqtt",
          "error",
          { deviceId, err: errorText(e) },
          "MQTT enroll failed",
        ),
      )
      // Whatever happened, the request is no longer being decided [PROTO-5a].
      .finally(() => broker.requestAnswered(client, deviceId, phase));
  };

  /** A signed "busy" at once: over its rate [PROTO-42] (the retry time its bucket gives) or stopping. */
  private shed(client: Client, inc: MqttRequest, shed: PublishAdmission & { kind: "shed" }): void {
    const { broker, ctx } = this.deps;
    const reply = shedRequest(ctx, inc, "mqtt", shed.cause, shed.retryAfterSeconds);
    if (shed.cause === "RateLimited") {
      // Over its rate the request never started; the session idles as after any "busy".
      void this.track(broker.publishReply(client.id, reply.frame));
      broker.sessionPhase(client, "busy");
      return;
    }
    // Stopping: the request starts and is answered at once [PROTO-5a].
    broker.requestStarted(client);
    void this.track(broker.publishReply(client.id, reply.frame));
    broker.requestAnswered(client, client.id, "busy");
  }

  /** Publishes the pipeline's reply; returns the phase the session enters. */
  private async answer(
    client: Client,
    inc: MqttRequest,
    r: EnrollResult & { kind: "reply" },
    t0: number,
  ): Promise<SessionPhase> {
    const { broker, ctx, reporter } = this.deps;
    const deviceId = inc.clientId;
    await broker.publishReply(deviceId, r.frame);
    if (r.invalid && !this.invalidPerClient.tryTake(deviceId) && !client.closed) {
      // [PROTO-24] a client whose frames keep failing verification is disconnected.
      reporter.refuse("invalid_frames", { clientId: deviceId, remote: inc.remote });
      ctx.metrics.sessionsClosed.inc({ reason: "invalid_frames" });
      client.close();
    }
    if (r.pendingName !== undefined && this.late.enabled)
      this.late.follow(r.pendingName, deviceId, r.reply.requestId);
    const { requestId, status, reason } = r.reply;
    reporter.emit("replied", {
      transport: "mqtt",
      deviceId,
      requestId,
      status,
      reason,
      ms: performance.now() - t0,
    });
    return sessionPhaseAfter(status);
  }
}
