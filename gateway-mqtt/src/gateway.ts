import { EventEmitter } from "node:events";
import type http from "node:http";
import { type DeviceRegistration, KubeRest, Registrations, resolveKubeConfig } from "@devreg/kube";
import { ReplayGuard } from "@devreg/protocol";
import type { Client, PublishPacket } from "aedes";
import { createAdminServer } from "./admin/server.ts";
import { Broker, type SessionPhase } from "./broker/broker.ts";
import { closeServer, listen } from "./broker/listeners.ts";
import type { RefusalKind } from "./broker/refusals.ts";
import { type GatewayOptions, parseGatewayOptions } from "./config.ts";
import { deactivationPush, deviceIdOf } from "./deactivation.ts";
import type { EnrollContext } from "./enroll/context.ts";
import type { Decision } from "./enroll/decision.ts";
import { AllowlistView } from "./enroll/allowlist-view.ts";
import { DecisionBoard } from "./enroll/decision-board.ts";
import { PairingView } from "./enroll/pairing-view.ts";
import { type IncomingRequest, runEnroll, shedRequest } from "./enroll/pipeline.ts";
import { decidedReply, jittered } from "./enroll/replies.ts";
import { signReply } from "./enroll/steps/sign-reply.ts";
import { GatewayError, errorText } from "./errors.ts";
import type { GatewayEvents } from "./events.ts";
import { createEnrollServer } from "./http/enroll-server.ts";
import { loadGatewayKey } from "./key-store.ts";
import { ConnectionLimiter } from "./limits/connection-limiter.ts";
import { Semaphore } from "./limits/semaphore.ts";
import { KeyedBuckets, TokenBucket } from "@devreg/runtime";
import { LogGate, createLogger } from "./log.ts";
import { GatewayMetrics } from "./metrics.ts";

export interface GatewayHandle {
  readonly gatewayId: string;
  readonly namespace: string;
  /** Bound MQTT (TCP or TLS) port. */
  readonly mqttPort: number;
  /** Bound MQTT-over-WebSocket port, when enabled. */
  readonly wsPort: number | undefined;
  /** Bound HTTP POST /enroll port, or undefined when HTTP is off. */
  readonly httpPort: number | undefined;
  /** Bound admin port (/healthz, /readyz, /metrics). */
  readonly adminPort: number;
  /** The gateway's Ed25519 public key (32 bytes) that devices pin. */
  readonly publicKey: Uint8Array;
  readonly events: EventEmitter<GatewayEvents>;
  /** Graceful: stop accepting, answer in-flight requests (decision or "pending"), flush, close. */
  stop(): Promise<void>;
}

/** True if `p` settled within `ms`; the timer never outlives the wait. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts one gateway replica: informer, broker, HTTP and admin listeners. */
export async function startGateway(opts: GatewayOptions): Promise<GatewayHandle> {
  const cfg = parseGatewayOptions(opts);
  const log = createLogger(cfg.logLevel, cfg.logger, cfg.gatewayId, cfg.logStream);
  const { signer, origin } = loadGatewayKey(cfg.key, cfg.keyFile);
  if (origin === "ephemeral")
    log.warn("no key or key file given: using an ephemeral key devices cannot pin across restarts");
  const metrics = new GatewayMetrics(cfg.gatewayId);
  const events = new EventEmitter<GatewayEvents>();

  const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(cfg.kubeconfig).kc, {
    maxSockets: cfg.limits.maxKubeWritesInFlight + 8,
    timeoutMs: 15_000,
  });
  const regs = new Registrations(rest, cfg.namespace);

  let stopping = false;
  let started = false;
  let inFlight = 0;

  const emit = <K extends keyof GatewayEvents>(name: K, ...args: GatewayEvents[K]) => {
    try {
      (events.emit as (n: K, ...a: GatewayEvents[K]) => boolean)(name, ...args);
    } catch (e) {
      log.error({ event: name, err: errorText(e) }, "gateway event listener threw");
    }
  };
  // Every refusal is counted; log lines (refusals, answers, handler errors) are
  // rate-limited per kind so a flood cannot turn into a logging DoS (the count of
  // suppressed lines rides on the next one).
  const logGate = new LogGate(log, cfg.limits.logLinesPerKind, (kind) =>
    metrics.logLinesSuppressed.inc({ kind }),
  );
  const refuse = (kind: RefusalKind, f: { clientId?: string; remote?: string; detail?: string }) => {
    metrics.refused(kind);
    logGate.line(
      `refused:${kind}`,
      "info",
      { refusal: kind, clientId: f.clientId, remote: f.remote, detail: f.detail },
      "refused",
    );
    emit("refused", { kind, clientId: f.clientId, remote: f.remote });
  };
  const L = cfg.limits;
  const mqttConnections = new ConnectionLimiter(L.mqttConnections, (n) =>
    metrics.connections.set({ transport: "mqtt" }, n),
  );
  const httpConnections = new ConnectionLimiter(L.httpConnections, (n) =>
    metrics.connections.set({ transport: "http" }, n),
  );
  /** Per-device request rate, MQTT and HTTP together (an MQTT client id is its device id). */
  const perDevice = new KeyedBuckets(L.publishPerClient, L.maxTrackedKeys);
  /** At most one "busy" notice per client and rate window; further over-rate requests are dropped. */
  const busyNotices = new KeyedBuckets(
    { ratePerSecond: L.publishPerClient.ratePerSecond, burst: 1 },
    L.maxTrackedKeys,
  );
  /** [PROTO-24] Verification failures a client may cause before it is disconnected. */
  const invalidPerClient = new KeyedBuckets(L.invalidPerClient, L.maxTrackedKeys);

  let broker: Broker | undefined;
  const onDecided = (reg: DeviceRegistration, decision: Decision) => {
    if (decision.status !== "deactivated" || !broker) return;
    const deviceId = deviceIdOf(reg);
    const client = deviceId ? broker.client(deviceId) : undefined;
    if (!deviceId || !client) {
      log.debug({ deviceId }, "deactivated device not connected here; it learns at its next enroll");
      return;
    }
    let push: ReturnType<typeof deactivationPush>;
    try {
      push = deactivationPush(
        signer,
        deviceId,
        decision.deviceUUID,
        decision.reason,
        Math.floor(Date.now() / 1000),
      );
    } catch (e) {
      log.error({ deviceId, err: errorText(e) }, "deactivation notice could not be built; disconnecting");
      client.close();
      return;
    }
    broker
      .pushAndDisconnect(client, push.frame)
      .then((sent) => {
        metrics.deactivationPushes.inc();
        log.info({ deviceId, sent, status: push.reply.status }, "deactivation pushed; client disconnected");
        emit("deactivated", { deviceId });
      })
      .catch((e) => log.warn({ deviceId, err: errorText(e) }, "deactivation push failed"));
  };

  const board = new DecisionBoard(rest, cfg.namespace, cfg.gatewayId, onDecided, (n) =>
    metrics.waiting.set(n),
  );
  board.informer.on("error", (err, retryInMs) => {
    metrics.informerErrors.inc();
    log.warn({ err: errorText(err), retryInMs }, "registration informer failed; retrying");
    emit("kubeError", err);
  });

  // Read-only views for refusing new keys without a write; they fail closed until listed.
  const pairing = new PairingView(rest, cfg.namespace);
  const allowlist = new AllowlistView(rest, cfg.namespace);
  for (const [what, inf] of [
    ["pairing ConfigMap", pairing.informer],
    ["allowlist", allowlist.informer],
  ] as const) {
    inf.on("error", (err, retryInMs) => {
      metrics.informerErrors.inc();
      log.warn({ err: errorText(err), retryInMs }, `${what} informer failed; new keys are refused until it lists`);
    });
  }

  const maxSkew = cfg.maxSkewSeconds;
  const ctx: EnrollContext = {
    cfg,
    log,
    metrics,
    signer,
    regs,
    board,
    pairing,
    allowlist,
    writes: new Semaphore(cfg.limits.maxKubeWritesInFlight, (n) => metrics.writesInFlight.set(n)),
    // [PROTO-23] one memory for requests and CONNECT proofs, capped in total and per device.
    replay: new ReplayGuard({
      ...(maxSkew ? { windowSeconds: 2 * maxSkew } : {}),
      maxEntries: L.replayMaxEntries,
      maxPerDevice: L.replayPerDevice,
    }),
    global: new TokenBucket(cfg.limits.publishGlobal),
    perDevice,
    logGate,
    stopping: () => stopping,
    refuse,
  };

  /** Runs an enroll to its reply, counting it so stop() can wait for it. */
  const track = async <T>(p: Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await p;
    } finally {
      inFlight--;
    }
  };

  /** SPEC §14.3: the decision after a "pending" answer, same requestId, if the device is still here. */
  const followLate = (name: string, deviceId: string, requestId: string) => {
    board.follow(name, Date.now() + cfg.latePushMs, cfg.limits.maxWaiting, (decision) => {
      if (stopping || !broker?.client(deviceId)) return;
      const signed = signReply(
        ctx,
        decidedReply({ requestId, deviceId }, decision),
        Math.floor(Date.now() / 1000),
      );
      metrics.latePushes.inc();
      const b = broker;
      void b.publishReply(deviceId, signed.frame).then(() => {
        const c = b.client(deviceId);
        if (c) b.sessionPhase(c, "final");
        emit("replied", {
          transport: "mqtt",
          deviceId,
          requestId,
          status: signed.reply.status,
          reason: signed.reply.reason,
          ms: 0,
        });
      });
    });
  };

  const phaseOf = (status: string): SessionPhase =>
    status === "pending" ? "pending" : status === "busy" ? "busy" : status === "approved" ? "enrolled" : "final";

  const onMqttRequest = (client: Client, packet: PublishPacket, remote: string) => {
    const deviceId = client.id;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const inc: IncomingRequest & { topicDeviceId: string } = {
      frame: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
      topicDeviceId: deviceId,
      nowSeconds: Math.floor(Date.now() / 1000),
      clientId: deviceId,
      remote,
      rateCharged: true,
    };
    const b = broker!;
    const t0 = performance.now();
    // The gateway-wide bucket is charged in the admit step, after verification.
    if (stopping) {
      const shed = shedRequest(ctx, inc, "mqtt", "ShuttingDown", jittered(cfg.busyRetryAfterSeconds));
      void track(b.publishReply(deviceId, shed.frame));
      b.requestAnswered(client, deviceId, "busy");
      return;
    }
    let phase: SessionPhase = "final";
    void track(
      runEnroll(ctx, inc, "mqtt").then(async (r) => {
        if (r.kind !== "reply") return;
        await b.publishReply(deviceId, r.frame);
        phase = phaseOf(r.reply.status);
        if (r.invalid && !invalidPerClient.tryTake(deviceId) && !client.closed) {
          // [PROTO-24] a client whose frames keep failing verification is disconnected.
          refuse("invalid_frames", { clientId: deviceId, remote });
          metrics.sessionsClosed.inc({ reason: "invalid_frames" });
          client.close();
        }
        if (r.pendingName !== undefined && cfg.latePushMs > 0)
          followLate(r.pendingName, deviceId, r.reply.requestId);
        emit("replied", {
          transport: "mqtt",
          deviceId,
          requestId: r.reply.requestId,
          status: r.reply.status,
          reason: r.reply.reason,
          ms: performance.now() - t0,
        });
      }),
    )
      .catch((e) =>
        logGate.line("handler_error:mqtt", "error", { deviceId, err: errorText(e) }, "MQTT enroll failed"),
      )
      // Whatever happened, the request is no longer being decided [PROTO-5a].
      .finally(() => b.requestAnswered(client, deviceId, phase));
  };

  /** Over its publish rate: one signed "busy" per window with the bucket's retry time [PROTO-26]. */
  const onRateLimited = (client: Client, packet: PublishPacket, retryAfterSeconds: number) => {
    if (stopping || !busyNotices.tryTake(client.id)) return;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const shed = shedRequest(
      ctx,
      {
        frame: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
        topicDeviceId: client.id,
        nowSeconds: Math.floor(Date.now() / 1000),
      },
      "mqtt",
      "RateLimited",
      Math.max(1, retryAfterSeconds),
    );
    const b = broker!;
    void track(b.publishReply(client.id, shed.frame));
    b.sessionPhase(client, "busy");
  };

  broker = new Broker({
    cfg,
    log,
    stopping: () => stopping,
    refuse,
    takeover: (clientId, remote) => {
      metrics.takeovers.inc();
      log.warn({ clientId, remote }, "session takeover: a new connection took this client id");
      emit("takeover", { clientId, remote });
    },
    onRequest: onMqttRequest,
    onRateLimited,
    onClientCount: (n) => metrics.connectedClients.set(n),
    replay: ctx.replay,
    connections: mqttConnections,
    publishPerClient: perDevice,
    sessionClosed: (reason) => metrics.sessionsClosed.inc({ reason }),
  });
  metrics.replaySource = () => ({ size: ctx.replay.size, evicted: ctx.replay.evicted });

  const admin = createAdminServer({
    registry: metrics.registry,
    log,
    notReady: () =>
      stopping
        ? "stopping"
        : !started
          ? "starting"
          : !board.informer.hasSynced
            ? "informer not synced"
            : !pairing.informer.hasSynced
              ? "pairing ConfigMap not listed"
              : mqttConnections.nearCap(L.notReadyAtCapFraction)
                ? `MQTT connections near the cap (${mqttConnections.size}/${L.mqttConnections.max})`
                : httpConnections.nearCap(L.notReadyAtCapFraction)
                  ? `HTTP connections near the cap (${httpConnections.size}/${L.httpConnections.max})`
                  : null,
  });
  let httpServer: http.Server | undefined;
  let adminPort = 0;
  let httpPort: number | undefined;

  const cleanup = async () => {
    await board.informer.stop().catch(() => {});
    await pairing.informer.stop().catch(() => {});
    await allowlist.informer.stop().catch(() => {});
    rest.close();
    await broker?.close().catch(() => {});
    await broker?.stopAccepting().catch(() => {});
    if (httpServer?.listening) {
      httpServer.closeAllConnections();
      await closeServer(httpServer);
    }
    if (admin.listening) {
      admin.closeAllConnections();
      await closeServer(admin);
    }
  };

  try {
    adminPort = await listen(admin, cfg.admin.port, cfg.admin.host, "admin");
    board.informer.start();
    pairing.informer.start();
    allowlist.informer.start();
    try {
      await board.informer.waitForSync(cfg.syncTimeoutMs);
    } catch (e) {
      throw new GatewayError(
        "E_GW_KUBE_UNAVAILABLE",
        `registrations in ${cfg.namespace} could not be listed: ${errorText(e)}`,
      );
    }
    // Not fatal: until they list, new keys are refused (fail closed) and /readyz says why.
    await Promise.all([
      pairing.informer.waitForSync(cfg.syncTimeoutMs).catch(() => log.warn("pairing ConfigMap not listed yet")),
      allowlist.informer.waitForSync(Math.min(cfg.syncTimeoutMs, 5_000)).catch(() => log.warn("allowlist not listed yet")),
    ]);
    await broker.start();
    if (cfg.http !== false) {
      httpServer = createEnrollServer({
        cfg,
        settings: cfg.http,
        log,
        stopping: () => stopping,
        refuse,
        connections: httpConnections,
        logGate,
        enroll: (inc) => track(runEnroll(ctx, inc, "http")),
        replied: (i) =>
          emit("replied", {
            transport: "http",
            deviceId: i.deviceId,
            requestId: i.requestId,
            status: i.status as never,
            ms: i.ms,
          }),
      });
      httpPort = await listen(httpServer, cfg.http.port, cfg.http.host, "HTTP");
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  started = true;
  const publicKey = signer.publicKey;
  log.info(
    {
      namespace: cfg.namespace,
      mqttPort: broker.mqttPort,
      wsPort: broker.wsPort,
      httpPort,
      adminPort,
      tls: cfg.tls !== undefined,
      keyOrigin: origin,
      publicKey: Buffer.from(publicKey).toString("base64"),
    },
    "gateway started",
  );

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log.info({ inFlight, waiting: board.waiting }, "gateway stopping");
      const listenersClosed = broker!.stopAccepting();
      // Stop accepting HTTP now; keep-alive connections go idle-first, the rest after the flush.
      const httpClosed = httpServer ? closeServer(httpServer) : Promise.resolve();
      httpServer?.closeIdleConnections();
      // Waiting requests get at most the grace period to be decided, then "pending".
      board.shortenDeadlines(cfg.stopGraceMs);
      board.dropFollowers();
      const until = Date.now() + cfg.stopGraceMs + 5_000;
      while (inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      await broker!.flush(1_000);
      await broker!.close();
      if (!(await within(listenersClosed, 2_000))) log.warn("listeners did not close within 2 s");
      httpServer?.closeAllConnections();
      await within(httpClosed, 2_000);
      await board.informer.stop();
      await pairing.informer.stop();
      await allowlist.informer.stop();
      rest.close();
      admin.closeAllConnections();
      await closeServer(admin);
      log.info("gateway stopped");
    })();
    return stopped;
  };

  return {
    gatewayId: cfg.gatewayId,
    namespace: cfg.namespace,
    mqttPort: broker.mqttPort,
    wsPort: broker.wsPort,
    httpPort,
    adminPort,
    publicKey,
    events,
    stop,
  };
}
