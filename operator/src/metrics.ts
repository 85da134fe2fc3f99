import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const METRICS_PREFIX = "devreg_operator_";

export interface MetricsSources {
  queueDepth: () => number;
  isLeader: () => boolean;
}

/** The operator's metrics, in a registry of its own (several operators can share a process in tests). */
export function createMetrics() {
  const registry = new Registry();
  const p = METRICS_PREFIX;
  collectDefaultMetrics({ register: registry, prefix: p });
  const m = {
    registry,
    reconciles: new Counter({
      name: `${p}reconciles_total`,
      help: "Reconciles by result: written (status patched), skipped (nothing to do), gone (object deleted), error",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: "Time to reconcile one key, including the status write",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    errors: new Counter({
      name: `${p}reconcile_errors_total`,
      help: "Failed reconciles (requeued with backoff), by error code",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    conflicts: new Counter({
      name: `${p}status_conflicts_total`,
      help: "Status writes refused with 409 Conflict (retried on a fresh read)",
      registers: [registry],
    }),
    decisions: new Counter({
      name: `${p}decisions_total`,
      help: "Phase changes written, by outcome (phase) and reason",
      labelNames: ["outcome", "reason"] as const,
      registers: [registry],
    }),
    deletions: new Counter({
      name: `${p}registrations_deleted_total`,
      help: "Registrations the cleanup deleted, by cause: Rejected, RetryableRejected (PairingDisabled), Pending",
      labelNames: ["cause"] as const,
      registers: [registry],
    }),
    budgetWrites: new Counter({
      name: `${p}window_budget_writes_total`,
      help: "Increments of a pairing window's approvalsUsed, by result (ok, conflict: recounted and retried)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    eventsSent: new Counter({
      name: `${p}events_sent_total`,
      help: "Kubernetes Events recorded",
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: `${p}events_dropped_total`,
      help: "Kubernetes Events dropped because the event queue was full or the operator stopped",
      registers: [registry],
    }),
    eventsFailed: new Counter({
      name: `${p}events_failed_total`,
      help: "Kubernetes Events the apiserver refused or did not answer",
      registers: [registry],
    }),
  };
  return m;
}

export type OperatorMetrics = ReturnType<typeof createMetrics>;

/**
 * The gauges read from the components that own the state (the controller's queue, the elector),
 * registered once those exist; they are read at scrape time.
 */
export function observeGauges(metrics: OperatorMetrics, src: MetricsSources): void {
  const p = METRICS_PREFIX;
  const registers = [metrics.registry];
  new Gauge({
    name: `${p}queue_depth`,
    help: "Keys waiting in the work queue",
    registers,
    collect() {
      this.set(src.queueDepth());
    },
  });
  new Gauge({
    name: `${p}leader`,
    help: "1 if this replica holds the leader lease",
    registers,
    collect() {
      this.set(src.isLeader() ? 1 : 0);
    },
  });
}
