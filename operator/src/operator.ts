import { type KubeRest, allowanceStatusPath } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import {
  type HealthServer,
  Lifecycle,
  type Logger,
  createLogger,
  isRuntimeError,
  startHealthServer,
} from "@devreg/runtime";
import { v4 as uuidv4 } from "uuid";
import { Caches } from "./caches.ts";
import { type KubeClients, connectClients } from "./clients.ts";
import { type OperatorConfig, type OperatorOptions, parseOperatorConfig } from "./config.ts";
import { Controller } from "./controller.ts";
import { DecisionListeners } from "./decision-listeners.ts";
import { OperatorError } from "./errors.ts";
import { EventRecorder } from "./events.ts";
import { Leadership } from "./leadership.ts";
import { type OperatorMetrics, createMetrics, observeGauges } from "./metrics.ts";
import { PairingAndCleanup } from "./pairing-and-cleanup.ts";
import type { PairingState } from "./pairing.ts";
import { type DecisionRecord, Reconciler } from "./reconciler.ts";

export interface OperatorHandle {
  /** The bound /healthz, /readyz, /metrics port (useful with httpPort 0). */
  readonly httpPort: number;
  readonly identity: string;
  readonly namespace: string;
  readonly config: Readonly<OperatorConfig>;
  isLeader(): boolean;
  isReady(): boolean;
  pairing(): PairingState;
  /** Called after each decision (phase change) this replica writes; returns an unsubscribe. */
  onDecision(listener: (d: DecisionRecord) => void): () => void;
  /** Resolves once this replica leads (tests), or rejects after `timeoutMs`. */
  waitForLeadership(timeoutMs?: number): Promise<void>;
  /** Prometheus text of this operator's registry. */
  metrics(): Promise<string>;
  /**
   * Graceful stop: in-flight reconciles finish, informers stop, the lease is released (unless
   * `releaseLease: false`, which simulates a crash for failover tests), pending Events get 2 s.
   */
  stop(opts?: { releaseLease?: boolean }): Promise<void>;
}

const START_SYNC_TIMEOUT_MS = 60_000;

/** Starts one operator replica. Resolves when its caches are synced; it then campaigns for the lease. */
export async function startOperator(opts: OperatorOptions = {}): Promise<OperatorHandle> {
  const { logger, ...options } = opts;
  const cfg = parseOperatorConfig(options);
  // `name` and `identity` on every line: the chaos suite attributes decisions to replicas by them.
  const log = createLogger({
    component: "devreg-operator",
    level: cfg.logLevel,
    base: logger,
    bindings: { name: "devreg-operator", identity: cfg.identity },
  });
  // One stop list: a start that fails half way unwinds through it, as stop() does.
  const lc = new Lifecycle(log);
  try {
    return await assemble(cfg, log, lc);
  } catch (e) {
    await lc.stop();
    throw e;
  }
}

/** Builds the parts in dependency order; each registers how it stops as it starts. */
async function assemble(cfg: OperatorConfig, log: Logger, lc: Lifecycle): Promise<OperatorHandle> {
  const clients = await connectClients(cfg, log, lc);
  // Registered before the Event recorder so that, as before, the probes answer until Events are flushed.
  let healthServer: HealthServer | undefined;
  lc.onStop("health server", () => healthServer?.close());
  const metrics = createMetrics();
  const recorder = startEventRecorder(clients.events, cfg, log, metrics, lc);
  const recordEvent = recorder.record.bind(recorder);
  const caches = new Caches(clients.api, cfg, log);
  const pairing = new PairingAndCleanup({ api: clients.api, cfg, caches, log, metrics, recordEvent });
  const decisions = new DecisionListeners();
  const reconciler = newReconciler({ clients, cfg, log, metrics, caches, pairing, recordEvent, decisions });
  const controller = new Controller({ caches, reconciler, concurrency: cfg.concurrency, log });
  // Events and decisions share one apiserver: Events wait while decisions are queued.
  recorder.yieldWhile(() => controller.depth > 0);
  const leadership = new Leadership(clients.api, cfg, log, lc, [pairing, controller]);
  observeGauges(metrics, { queueDepth: () => controller.depth, isLeader: () => leadership.isLeader() });
  const health = await serveHealth(cfg, log, metrics, {
    unhealthy: () => (leadership.healthy() ? undefined : "leader lease not renewed"),
    notReady: () => (lc.stopping ? "stopping" : caches.ready() ? undefined : "caches not synced"),
  });
  healthServer = health;

  caches.start(lc);
  await caches.synced(START_SYNC_TIMEOUT_MS);
  log.info({ registrations: caches.registrations.size, pairing: pairing.state().code }, "caches synced");
  lc.onStop("pairing and cleanup", () => pairing.stopLeading());
  leadership.start();

  let stopped: Promise<void> | undefined;
  return {
    httpPort: health.port,
    identity: cfg.identity,
    namespace: cfg.namespace,
    config: cfg,
    isLeader: () => leadership.isLeader(),
    isReady: () => !lc.stopping && caches.ready(),
    pairing: () => pairing.state(),
    onDecision: (listener) => decisions.add(listener),
    waitForLeadership: (timeoutMs = 30_000) => leadership.waitForLeadership(timeoutMs),
    metrics: () => metrics.registry.metrics(),
    stop(stopOpts = {}) {
      stopped ??= (async () => {
        leadership.releaseOnStop = stopOpts.releaseLease !== false;
        log.info({ releaseLease: leadership.releaseOnStop }, "stopping");
        await lc.stop();
        log.info("stopped");
      })();
      return stopped;
    },
  };
}

/** Best-effort Events on their own client; on stop, pending ones get 2 s. */
function startEventRecorder(
  events: KubeRest,
  cfg: OperatorConfig,
  log: Logger,
  metrics: OperatorMetrics,
  lc: Lifecycle,
): EventRecorder {
  const recorder = new EventRecorder(events, {
    component: "devreg-operator",
    instance: cfg.identity,
    queueSize: cfg.eventQueueSize,
    concurrency: cfg.eventConcurrency,
    qps: cfg.eventQps,
    burst: cfg.eventBurst,
    log,
    onDropped: () => metrics.eventsDropped.inc(),
    onSent: () => metrics.eventsSent.inc(),
    onFailed: () => metrics.eventsFailed.inc(),
  });
  lc.onStop("events", async () => {
    await recorder.flush(2_000);
    await recorder.stop();
  });
  return recorder;
}

interface ReconcilerParts {
  clients: KubeClients;
  cfg: OperatorConfig;
  log: Logger;
  metrics: OperatorMetrics;
  caches: Caches;
  pairing: PairingAndCleanup;
  recordEvent: EventRecorder["record"];
  decisions: DecisionListeners;
}

function newReconciler(p: ReconcilerParts): Reconciler {
  const { caches, cfg, log } = p;
  return new Reconciler({
    regs: caches.regs,
    cache: caches.registrations,
    keyIndex: caches.keyIndex,
    pairing: () => p.pairing.state(),
    budget: p.pairing.budget,
    allowanceFor: (publicKey) => caches.allowanceIndex.get(publicKey),
    onAllowanceUsed: (allowance, registration) => {
      const cur = caches.allowances.get(`${cfg.namespace}/${allowance}`);
      if (cur?.status?.usedBy === registration) return;
      recordAllowanceUse(p.clients.api, cfg.namespace, allowance, registration, log);
    },
    recordEvent: p.recordEvent,
    approvalEvents: cfg.approvalEvents,
    metrics: p.metrics,
    log,
    newUUID: uuidv4,
    deviceIdOf: deviceIdFromPublicKey,
    onDecision: (d) => p.decisions.emit(d),
  });
}

/** Audit only: notes on the allowance who used it; a failed write is logged, never retried into the decision path. */
function recordAllowanceUse(
  api: KubeRest,
  ns: string,
  allowance: string,
  registration: string,
  log: Logger,
): void {
  api
    .request("PATCH", allowanceStatusPath(ns, allowance), {
      body: { status: { usedBy: registration, usedAt: new Date().toISOString() } },
      contentType: "application/merge-patch+json",
    })
    .catch((err: Error) =>
      log.warn({ allowance, registration, err: err.message }, "could not record the allowance's use"),
    );
}

/** /healthz, /readyz, /metrics; a port that cannot be bound is E_HTTP_LISTEN, as before the runtime layer. */
async function serveHealth(
  cfg: OperatorConfig,
  log: Logger,
  metrics: OperatorMetrics,
  probes: { unhealthy: () => string | undefined; notReady: () => string | undefined },
): Promise<HealthServer> {
  let health: HealthServer;
  try {
    health = await startHealthServer({
      host: cfg.httpHost,
      port: cfg.httpPort,
      registry: metrics.registry,
      log,
      ...probes,
    });
  } catch (e) {
    if (isRuntimeError(e, "E_LISTEN")) throw new OperatorError("E_HTTP_LISTEN", e.message);
    throw e;
  }
  return health;
}
