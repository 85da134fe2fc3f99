import type { EventEmitter } from "node:events";
import { KubeRest, resolveKubeConfig } from "@devreg/kube";
import type { ReplayGuard } from "@devreg/protocol";
import { type DevregEnv, Lifecycle, type Logger, createLogger } from "@devreg/runtime";
import { Readiness, belowCap, startAdmin } from "./admin.ts";
import { Broker } from "./broker/broker.ts";
import { type GatewayConfig, type GatewayOptions, parseGatewayOptions } from "./config.ts";
import { DeactivationNotifier } from "./deactivation-notifier.ts";
import { createEnrollContext } from "./enroll/context.ts";
import { EnrollService } from "./enroll/enroll-service.ts";
import { InformerViews } from "./enroll/views.ts";
import type { GatewayEvents } from "./events.ts";
import { createEnrollListener } from "./http/enroll-listener.ts";
import { type GatewaySigner, loadGatewayKey } from "./key-store.ts";
import { type ConnectionCaps, ConnectionLimiter } from "./limits/connection-limiter.ts";
import { RequestAdmission } from "./limits/request-admission.ts";
import { GatewayMetrics } from "./metrics.ts";
import { Reporter } from "./reporter.ts";

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

/** What every part of one gateway shares. */
interface GatewayCore {
  cfg: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
  reporter: Reporter;
  signer: GatewaySigner;
  /** True once the stop began (or a start failed). */
  stopping(): boolean;
}

/**
 * Starts one gateway replica from its parts. Each part registers how it stops as it starts;
 * the stop list runs last-registered first, so a stop, like a start that failed half way, goes:
 * stop accepting → drain in-flight requests (deadlines shortened to the grace period) → flush
 * and close the broker → close the MQTT, then HTTP listeners → stop the informers → close the
 * Kubernetes client → close the admin port. `env` is the environment as the process read it
 * (readEnv; read here when not given).
 */
export async function startGateway(opts: GatewayOptions, env?: DevregEnv): Promise<GatewayHandle> {
  const cfg = parseGatewayOptions(opts, env);
  const { gatewayId, namespace } = cfg;
  const log = createLogger({
    component: "gateway-mqtt",
    level: cfg.logLevel,
    base: cfg.logger,
    bindings: { gatewayId },
    stream: cfg.logStream,
  });
  const { signer, origin } = loadGatewayKey(cfg.key, cfg.keyFile);
  if (origin === "ephemeral")
    log.warn("no key or key file given: using an ephemeral key devices cannot pin across restarts");
  const metrics = new GatewayMetrics(gatewayId);
  const reporter = new Reporter(log, metrics, cfg.limits.logLinesPerKind);
  const life = new Lifecycle(log);
  const core: GatewayCore = { cfg, log, metrics, reporter, signer, stopping: () => life.stopping };
  const readiness = new Readiness(core.stopping);
  try {
    const adminPort = await startAdmin(cfg.admin, { registry: metrics.registry, log, readiness, life });
    const kubeOpts = { maxSockets: cfg.limits.maxKubeWritesInFlight + 8, timeoutMs: 15_000 };
    const rest = await KubeRest.fromKubeConfig(
      resolveKubeConfig(cfg.kubeconfig, cfg.envKubeconfig).kc,
      kubeOpts,
    );
    life.onStop("Kubernetes client", () => rest.close());
    const ports = await startEnrollment(core, rest, readiness, life);
    readiness.markStarted();
    const publicKey = signer.publicKey;
    log.info(
      {
        namespace,
        ...ports,
        adminPort,
        tls: cfg.tls !== undefined,
        keyOrigin: origin,
        publicKey: Buffer.from(publicKey).toString("base64"),
      },
      "gateway started",
    );
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= life.stop().then(() => log.info("gateway stopped")));
    return { gatewayId, namespace, ...ports, adminPort, publicKey, events: reporter.events, stop };
  } catch (e) {
    await life.stop();
    throw e;
  }
}

/**
 * The device-facing side: the informer-backed views, admission, the broker, the enroll
 * service and its HTTP listener, the deactivation notifier. Registers, last, the drain of
 * in-flight requests and, before it in the stop order, stop accepting.
 */
async function startEnrollment(
  core: GatewayCore,
  rest: KubeRest,
  readiness: Readiness,
  life: Lifecycle,
): Promise<{ mqttPort: number; wsPort: number | undefined; httpPort: number | undefined }> {
  const { cfg, log, metrics, reporter, signer, stopping } = core;
  const L = cfg.limits;
  const views = new InformerViews({ rest, cfg, log, metrics, reporter });
  const connections = (transport: "mqtt" | "http", caps: ConnectionCaps) =>
    new ConnectionLimiter(caps, (n) => metrics.connections.set({ transport }, n), L.ipv6PrefixLength);
  const mqttConnections = connections("mqtt", L.mqttConnections);
  const httpConnections = connections("http", L.httpConnections);
  readiness.require(
    views.notReady,
    belowCap("MQTT", mqttConnections, L.notReadyAtCapFraction),
    belowCap("HTTP", httpConnections, L.notReadyAtCapFraction),
  );
  const { refuse, logGate } = reporter;
  const { board, pairing, allowlist } = views;
  const waiting = () => board.waiting;
  const admission = new RequestAdmission({ cfg, stopping, waiting, refuse });
  const ctx = createEnrollContext({
    cfg,
    log,
    metrics,
    signer,
    rest,
    board,
    pairing,
    allowlist,
    admission,
    logGate,
    refuse,
  });
  const broker = createBroker(core, ctx.replay, mqttConnections);
  const enroll = new EnrollService({ ctx, broker, admission, reporter, stopping });
  board.on("decided", new DeactivationNotifier({ broker, signer, log, metrics, reporter }).decided);
  await views.start(life, cfg.syncTimeoutMs);
  const http =
    cfg.http === false
      ? undefined
      : createEnrollListener(
          {
            settings: cfg.http,
            admit: (remote) => admission.httpRequest(remote),
            refuse,
            connections: httpConnections,
            logGate,
            enroll: enroll.http,
            replied: (i) => reporter.emit("replied", { transport: "http", ...i, status: i.status as never }),
          },
          life,
        );
  await broker.start(life);
  const httpPort = await http?.listen();
  life.onStop("drain in-flight requests", () => enroll.drain(cfg.stopGraceMs), cfg.stopGraceMs + 6_000);
  life.onStop("stop accepting", () => {
    log.info({ inFlight: enroll.requestsInFlight, waiting: waiting() }, "gateway stopping");
    void broker.stopAccepting();
    http?.stopAccepting();
  });
  return { mqttPort: broker.mqttPort, wsPort: broker.wsPort, httpPort };
}

/** The embedded broker, reporting sessions, refusals and takeovers through the core. */
function createBroker(core: GatewayCore, replay: ReplayGuard, connections: ConnectionLimiter): Broker {
  const { cfg, log, metrics, reporter, stopping } = core;
  return new Broker({
    cfg,
    log,
    stopping,
    refuse: reporter.refuse,
    takeover: reporter.takeover,
    onClientCount: (n) => metrics.connectedClients.set(n),
    replay,
    connections,
    sessionClosed: (reason) => metrics.sessionsClosed.inc({ reason }),
  });
}
