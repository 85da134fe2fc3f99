import { KeyedBuckets, waitFor } from "@devreg/runtime";
import type { Client, PublishPacket } from "aedes";
import type { Broker, SessionPhase } from "../broker/broker.ts";
import { errorText } from "../errors.ts";
import type { PublishAdmission, RequestAdmission } from "../limits/request-admission.ts";
import type { Reporter } from "../reporter.ts";
import type { EnrollContext } from "./context.ts";
import { type EnrollResult, type IncomingRequest, runEnroll, shedRequest } from "./pipeline.ts";
import { decidedReply } from "./replies.ts";
import { signReply } from "./steps/sign-reply.ts";

export interface EnrollServiceDeps {
  ctx: EnrollContext;
  broker: Broker;
  admission: RequestAdmission;
  reporter: Reporter;
  stopping(): boolean;
}

type MqttRequest = IncomingRequest & { topicDeviceId: string; clientId: string };

const nowSeconds = () => Math.floor(Date.now() / 1000);

const phaseOf = (status: string): SessionPhase =>
  status === "pending"
    ? "pending"
    : status === "busy"
      ? "busy"
      : status === "approved"
        ? "enrolled"
        : "final";

/**
 * Serves enroll requests from both transports: the MQTT requests the broker authorized
 * (admitted, run through the pipeline, answered on the device's reply topic) and HTTP's.
 * Counts the requests in flight so a stop can drain them, and after a "pending" answer over
 * MQTT publishes a late decision (SPEC §14.3).
 */
export class EnrollService {
  private inFlight = 0;
  /** [PROTO-24] Verification failures a client may cause before it is disconnected. */
  private readonly invalidPerClient: KeyedBuckets;

  constructor(private readonly deps: EnrollServiceDeps) {
    const L = deps.ctx.cfg.limits;
    this.invalidPerClient = new KeyedBuckets(L.invalidPerClient, L.maxTrackedKeys);
    deps.broker.on("request", (client, packet, remote) => this.mqttRequest(client, packet, remote));
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** An HTTP request the listener admitted and parsed. */
  readonly http = (inc: IncomingRequest): Promise<EnrollResult> =>
    this.track(runEnroll(this.deps.ctx, inc, "http"));

  /** Stop: waiting requests get at most `graceMs` to be decided, then "pending"; waits for every answer. */
  async drain(graceMs: number): Promise<void> {
    this.deps.ctx.board.shortenDeadlines(graceMs);
    this.deps.ctx.board.dropFollowers();
    await waitFor(() => this.inFlight === 0, { timeoutMs: graceMs + 5_000, intervalMs: 10 }).catch(() =>
      this.deps.ctx.log.warn({ inFlight: this.inFlight }, "requests still in flight after the grace period"),
    );
  }

  /** Runs an enroll to its reply, counting it so a stop can wait for it. */
  private async track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await p;
    } finally {
      this.inFlight--;
    }
  }

  private mqttRequest(client: Client, packet: PublishPacket, remote: string): void {
    const { ctx, broker } = this.deps;
    const deviceId = client.id;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const inc: MqttRequest = {
      frame: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
      topicDeviceId: deviceId,
      nowSeconds: nowSeconds(),
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
  }

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
    if (r.pendingName !== undefined && ctx.cfg.latePushMs > 0)
      this.followLate(r.pendingName, deviceId, r.reply.requestId);
    const { requestId, status, reason } = r.reply;
    reporter.emit("replied", {
      transport: "mqtt",
      deviceId,
      requestId,
      status,
      reason,
      ms: performance.now() - t0,
    });
    return phaseOf(status);
  }

  /** SPEC §14.3: the decision after a "pending" answer, same requestId, if the device is still here. */
  private followLate(name: string, deviceId: string, requestId: string): void {
    const { ctx, broker, reporter } = this.deps;
    ctx.board.follow(name, Date.now() + ctx.cfg.latePushMs, ctx.cfg.limits.maxWaiting, (decision) => {
      if (this.deps.stopping() || !broker.client(deviceId)) return;
      const signed = signReply(ctx, decidedReply({ requestId, deviceId }, decision), nowSeconds());
      ctx.metrics.latePushes.inc();
      void broker.publishReply(deviceId, signed.frame).then(() => {
        const c = broker.client(deviceId);
        if (c) broker.sessionPhase(c, "final");
        const { status, reason } = signed.reply;
        reporter.emit("replied", { transport: "mqtt", deviceId, requestId, status, reason, ms: 0 });
      });
    });
  }
}
