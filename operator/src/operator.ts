import {
  type ConfigMap,
  type DeviceAllowance,
  type DeviceRegistration,
  allowancesPath,
  dropManagedFields,
  GROUP,
  Informer,
  KubeRest,
  PAIRING_CONFIGMAP,
  Registrations,
  VERSION,
  isKubeError,
  isTransient,
  keyOf,
  resolveKubeConfig,
} from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { type Logger, pino } from "pino";
import { v4 as uuidv4 } from "uuid";
import { type OperatorConfig, type OperatorOptions, parseOperatorConfig } from "./config.ts";
import { Cleaner } from "./cleanup.ts";
import { compactManagedFields, isUpToDate } from "./decide.ts";
import { OperatorError } from "./errors.ts";
import { EventRecorder } from "./events.ts";
import { type ProbeServer, startProbeServer } from "./http-server.ts";
import { KeyIndex } from "./key-owner.ts";
import { LeaderElector } from "./leader-election.ts";
import { createMetrics } from "./metrics.ts";
import { PairingController } from "./pairing-controller.ts";
import type { PairingState } from "./pairing.ts";
import { type DecisionRecord, Reconciler } from "./reconciler.ts";
import { WindowBudget } from "./window-budget.ts";
import { WorkQueue } from "./work-queue.ts";

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
  const log: Logger =
    logger ?? pino({ name: "devreg-operator", level: cfg.logLevel, base: { identity: cfg.identity } });
  const { kc, origin } = resolveKubeConfig(cfg.kubeconfig);
  // Separate connection pools: Events can never hold a socket a status write is waiting for.
  const api = await KubeRest.fromKubeConfig(kc, { maxSockets: cfg.concurrency + 4 });
  const eventsApi = await KubeRest.fromKubeConfig(kc, { maxSockets: cfg.eventConcurrency });
  const ns = cfg.namespace;
  log.info({ kubeconfig: origin, server: api.server.origin, namespace: ns, concurrency: cfg.concurrency }, "starting");

  const closeClients = () => {
    api.close();
    eventsApi.close();
  };
  try {
    await api.request("GET", `/apis/${GROUP}/${VERSION}`, { timeoutMs: 10_000 });
  } catch (e) {
    closeClients();
    if (isKubeError(e, "E_KUBE_NOT_FOUND")) {
      throw new OperatorError(
        "E_CRD_MISSING",
        `the DeviceRegistration CRD is not installed on ${api.server.origin}: kubectl apply -f crds/`,
      );
    }
    throw e;
  }

  let queue: WorkQueue | undefined;
  let stopping = false;
  const listeners = new Set<(d: DecisionRecord) => void>();
  const leaderWaiters = new Set<() => void>();
  let elector: LeaderElector | undefined;

  const metrics = createMetrics({ queueDepth: () => queue?.depth ?? 0, isLeader: () => elector?.isLeader() ?? false });
  const recorder = new EventRecorder(eventsApi, {
    component: "devreg-operator",
    instance: cfg.identity,
    queueSize: cfg.eventQueueSize,
    concurrency: cfg.eventConcurrency,
    qps: cfg.eventQps,
    burst: cfg.eventBurst,
    log,
    yieldTo: () => (queue?.depth ?? 0) > 0,
    onDropped: () => metrics.eventsDropped.inc(),
    onSent: () => metrics.eventsSent.inc(),
    onFailed: () => metrics.eventsFailed.inc(),
  });
  const recordEvent = recorder.record.bind(recorder);

  const regs = new Registrations(api, ns);
  const regInformer = new Informer<DeviceRegistration>(api, {
    path: regs.collectionPath(),
    resyncMs: cfg.resyncMs,
    transform: compactManagedFields,
  });
  const cmInformer = new Informer<ConfigMap>(api, {
    path: `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`,
    fieldSelector: `metadata.name=${PAIRING_CONFIGMAP}`,
    resyncMs: cfg.resyncMs,
  });
  /** publicKey → DeviceAllowance name: a decision looks its key up, not every entry. */
  const allowanceByKey = new Map<string, string>();
  const allowanceInformer = new Informer<DeviceAllowance>(api, {
    path: allowancesPath(ns),
    resyncMs: cfg.resyncMs,
    transform: dropManagedFields,
  });
  const pairingCtl = new PairingController({ rest: api, namespace: ns, informer: cmInformer, log, recordEvent });
  const budget = new WindowBudget({
    rest: api,
    namespace: ns,
    cached: () => cmInformer.get(`${ns}/${PAIRING_CONFIGMAP}`),
    log,
    onWrite: (result) => metrics.budgetWrites.inc({ result }),
  });
  const cleaner = new Cleaner({
    regs,
    values: () => regInformer.values(),
    ttls: cfg,
    intervalMs: cfg.cleanupIntervalMs,
    pairingOpen: () => pairingCtl.state().open,
    log,
    onDeleted: (cause) => metrics.deletions.inc({ cause }),
  });
  const keyIndex = new KeyIndex();
  const reconciler = new Reconciler({
    regs,
    cache: regInformer,
    keyIndex,
    pairing: () => pairingCtl.state(),
    budget,
    allowanceFor: (publicKey) => allowanceByKey.get(publicKey),
    onAllowanceUsed: (allowance, registration) => {
      const cur = allowanceInformer.get(`${ns}/${allowance}`);
      if (cur?.status?.usedBy === registration) return;
      // Audit only: a failed write is logged, never retried into the decision path.
      api
        .request("PATCH", `${allowancesPath(ns)}/${encodeURIComponent(allowance)}/status`, {
          body: { status: { usedBy: registration, usedAt: new Date().toISOString() } },
          contentType: "application/merge-patch+json",
        })
        .catch((err: Error) => log.warn({ allowance, registration, err: err.message }, "could not record the allowance's use"));
    },
    recordEvent,
    approvalEvents: cfg.approvalEvents,
    metrics,
    log,
    newUUID: uuidv4,
    deviceIdOf: deviceIdFromPublicKey,
    onDecision: (d) => {
      for (const l of listeners) {
        try {
          l(d);
        } catch {
          // a listener's bug must not fail the reconcile that already succeeded
        }
      }
    },
  });

  const onRegistration = (obj: DeviceRegistration) => {
    const key = keyOf(obj.metadata);
    keyIndex.set(key, obj);
    reconciler.observed(key, obj);
    if (queue && !isUpToDate(obj)) queue.add(key);
  };
  regInformer.on("add", onRegistration);
  regInformer.on("update", onRegistration);
  regInformer.on("delete", (obj) => {
    const key = keyOf(obj.metadata);
    keyIndex.delete(key);
    reconciler.observed(key, undefined);
  });
  let wasOpen = false;
  const evaluatePairing = () => {
    pairingCtl.evaluate();
    const open = pairingCtl.state().open;
    // A window opened: rejections it fixes (PairingDisabled) go now, so their devices start afresh.
    if (open && !wasOpen && queue) void cleaner.sweep();
    wasOpen = open;
  };
  // A new allowance may decide registrations already waiting for their key.
  const onAllowance = (a: DeviceAllowance) => {
    if (a.spec?.publicKey) allowanceByKey.set(a.spec.publicKey, a.metadata.name);
    if (!queue) return;
    for (const key of keyIndex.keysFor(a.spec?.publicKey)) {
      const obj = regInformer.get(key);
      if (obj && !isUpToDate(obj)) queue.add(key);
    }
  };
  allowanceInformer.on("add", onAllowance);
  allowanceInformer.on("update", onAllowance);
  allowanceInformer.on("delete", (a: DeviceAllowance) => {
    if (a.spec?.publicKey && allowanceByKey.get(a.spec.publicKey) === a.metadata.name) allowanceByKey.delete(a.spec.publicKey);
  });
  for (const ev of ["add", "update", "delete", "synced"] as const) cmInformer.on(ev, evaluatePairing);

  let startupError: Error | undefined;
  allowanceInformer.on("error", (err, retryInMs) =>
    log.warn({ err: err.message, retryInMs }, "allowlist list/watch failed; no key counts as pre-registered until it lists"),
  );
  for (const inf of [regInformer, cmInformer]) {
    inf.on("error", (err, retryInMs) => {
      log.warn({ err: err.message, retryInMs }, "list/watch failed; retrying");
      if (!inf.hasSynced && !isTransient(err)) startupError ??= err;
    });
  }

  const startLeading = () => {
    if (stopping) return;
    queue = new WorkQueue({
      concurrency: cfg.concurrency,
      handler: (key) => reconciler.reconcile(key),
      onError: (key, err, retryInMs) =>
        log.warn({ registration: key, err: (err as Error).message, retryInMs }, "reconcile failed; requeued"),
    });
    pairingCtl.startLeading();
    cleaner.start();
    // Level-triggered: on taking over, everything not yet decided for its generation is work.
    for (const obj of regInformer.values()) if (!isUpToDate(obj)) queue.add(keyOf(obj.metadata));
    for (const w of leaderWaiters) w();
  };
  const stopLeading = async () => {
    pairingCtl.stopLeading();
    cleaner.stop();
    const q = queue;
    queue = undefined;
    await q?.shutDown();
  };
  elector = new LeaderElector(api, {
    namespace: ns,
    name: cfg.leaseName,
    identity: cfg.identity,
    leaseDurationMs: cfg.leaseDurationMs,
    renewDeadlineMs: cfg.renewDeadlineMs,
    retryPeriodMs: cfg.retryPeriodMs,
    log,
    onStartedLeading: startLeading,
    onStoppedLeading: stopLeading,
  });
  const le = elector;

  // The allowlist is not required to be ready: until it lists, no key counts as pre-registered.
  const ready = () => regInformer.hasSynced && cmInformer.hasSynced;
  let probe: ProbeServer;
  try {
    probe = await startProbeServer({
      host: cfg.httpHost,
      port: cfg.httpPort,
      registry: metrics.registry,
      unhealthy: () => (le.healthy() ? undefined : "leader lease not renewed"),
      notReady: () => (stopping ? "stopping" : ready() ? undefined : "caches not synced"),
    });
  } catch (e) {
    closeClients();
    throw e;
  }

  regInformer.start();
  cmInformer.start();
  allowanceInformer.start();
  const deadline = Date.now() + START_SYNC_TIMEOUT_MS;
  while (!ready() && !startupError && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!ready()) {
    await Promise.all([regInformer.stop(), cmInformer.stop(), allowanceInformer.stop()]);
    await probe.close();
    await recorder.stop();
    closeClients();
    throw (
      startupError ??
      new OperatorError("E_START_TIMEOUT", `caches did not sync in ${START_SYNC_TIMEOUT_MS / 1000} s (see the log)`)
    );
  }
  log.info({ registrations: regInformer.size, pairing: pairingCtl.state().code }, "caches synced");
  le.start();

  let stopped: Promise<void> | undefined;
  const handle: OperatorHandle = {
    httpPort: probe.port,
    identity: cfg.identity,
    namespace: ns,
    config: cfg,
    isLeader: () => le.isLeader(),
    isReady: () => !stopping && ready(),
    pairing: () => pairingCtl.state(),
    onDecision(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForLeadership(timeoutMs = 30_000) {
      if (le.isLeader() && queue) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(t);
          leaderWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(() => {
          leaderWaiters.delete(done);
          reject(new OperatorError("E_LEADER_ELECTION", `${cfg.identity} did not become leader in ${timeoutMs} ms`));
        }, timeoutMs);
        leaderWaiters.add(done);
      });
    },
    metrics: () => metrics.registry.metrics(),
    stop(stopOpts = {}) {
      stopped ??= (async () => {
        stopping = true;
        log.info({ releaseLease: stopOpts.releaseLease !== false }, "stopping");
        await le.stop({ release: stopOpts.releaseLease !== false });
        pairingCtl.stop();
        cleaner.stop();
        await Promise.all([regInformer.stop(), cmInformer.stop(), allowanceInformer.stop()]);
        await recorder.flush(2_000);
        await recorder.stop();
        await probe.close();
        closeClients();
        log.info("stopped");
      })();
      return stopped;
    },
  };
  return handle;
}
