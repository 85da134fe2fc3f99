import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { REFUSAL_KINDS, type RefusalKind } from "./broker/refusals.ts";
import { readListenOverflows } from "./limits/listen-overflows.ts";

export const METRIC_PREFIX = "devreg_gateway_";
const OUTCOMES = ["approved", "rejected", "pending", "deactivated", "busy", "error"] as const;
const TRANSPORTS = ["mqtt", "http"] as const;
export type Transport = (typeof TRANSPORTS)[number];
const SESSION_CLOSE_REASONS = [
  "idle",
  "final_reply",
  "enrolled_idle",
  "invalid_frames",
  "connect_timeout",
  "keepalive_timeout",
  "protocol_error",
  "slow_reader",
] as const;
export type SessionCloseReason = (typeof SESSION_CLOSE_REASONS)[number];

/** The gateway's metrics on its own registry (several gateways can share a process in tests). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly enrollments: Counter<"outcome" | "transport">;
  readonly latency: Histogram<"outcome" | "transport">;
  readonly connectedClients: Gauge;
  readonly writesInFlight: Gauge;
  readonly waiting: Gauge;
  readonly refusals: Counter<"kind">;
  readonly takeovers: Counter;
  readonly deactivationPushes: Counter;
  readonly latePushes: Counter;
  readonly informerErrors: Counter;
  readonly closedRefusals: Counter<"code">;
  readonly connections: Gauge<"transport">;
  readonly sessionsClosed: Counter<"reason">;
  readonly replayEntries: Gauge;
  readonly replayEvictions: Gauge;
  readonly replayLargestAddress: Gauge;
  readonly logLinesSuppressed: Counter<"kind">;

  constructor(gatewayId: string) {
    this.registry.setDefaultLabels({ gateway: gatewayId });
    const registers = [this.registry];
    this.enrollments = new Counter({
      name: `${METRIC_PREFIX}enrollments_total`,
      help: "Enroll requests answered, by reply status and transport",
      labelNames: ["outcome", "transport"],
      registers,
    });
    this.latency = new Histogram({
      name: `${METRIC_PREFIX}enrollment_duration_seconds`,
      help: "Time from receiving an enroll request to its signed reply being handed to the transport",
      labelNames: ["outcome", "transport"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.connectedClients = new Gauge({
      name: `${METRIC_PREFIX}connected_clients`,
      help: "MQTT clients connected to this replica",
      registers,
    });
    this.writesInFlight = new Gauge({
      name: `${METRIC_PREFIX}kube_writes_in_flight`,
      help: "Kubernetes writes (create, adopt) in flight; bounded by limits.maxKubeWritesInFlight",
      registers,
    });
    this.waiting = new Gauge({
      name: `${METRIC_PREFIX}requests_waiting`,
      help: "Requests waiting for the operator's decision",
      registers,
    });
    this.refusals = new Counter({
      name: `${METRIC_PREFIX}refusals_total`,
      help: "Refused connects, publishes, subscribes and requests, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.takeovers = new Counter({
      name: `${METRIC_PREFIX}session_takeovers_total`,
      help: "CONNECTs that took over the client id of a connected client (allowed ones)",
      registers,
    });
    this.deactivationPushes = new Counter({
      name: `${METRIC_PREFIX}deactivation_pushes_total`,
      help: "Deactivated replies pushed to connected devices",
      registers,
    });
    this.latePushes = new Counter({
      name: `${METRIC_PREFIX}late_decision_pushes_total`,
      help: "Decisions published after a pending answer, with the same requestId (SPEC 14.3)",
      registers,
    });
    this.informerErrors = new Counter({
      name: `${METRIC_PREFIX}informer_errors_total`,
      help: "List/watch failures of the registration informer (it retries by itself)",
      registers,
    });
    this.closedRefusals = new Counter({
      name: `${METRIC_PREFIX}closed_refusals_total`,
      help: "Requests from keys with no registration refused PairingDisabled without any apiserver write, by pairing state code",
      labelNames: ["code"],
      registers,
    });
    this.connections = new Gauge({
      name: `${METRIC_PREFIX}open_connections`,
      help: "Open connections by transport; bounded by limits.mqttConnections / limits.httpConnections",
      labelNames: ["transport"],
      registers,
    });
    this.sessionsClosed = new Counter({
      name: `${METRIC_PREFIX}sessions_closed_total`,
      help: "MQTT sessions the gateway closed, by reason (idle, final_reply, invalid_frames, connect_timeout)",
      labelNames: ["reason"],
      registers,
    });
    const replay = () => this.replaySource?.();
    this.replayEntries = new Gauge({
      name: `${METRIC_PREFIX}replay_entries`,
      help: "(deviceId, nonce) pairs remembered [PROTO-23]; bounded by limits.replayMaxEntries",
      registers,
      collect() {
        const r = replay();
        if (r) this.set(r.size);
      },
    });
    this.replayEvictions = new Gauge({
      name: `${METRIC_PREFIX}replay_device_evictions`,
      help: "Pairs forgotten early because their own device went over limits.replayPerDevice [PROTO-23a]",
      registers,
      collect() {
        const r = replay();
        if (r) this.set(r.evicted);
      },
    });
    this.replayLargestAddress = new Gauge({
      name: `${METRIC_PREFIX}replay_largest_address_entries`,
      help: "Pairs remembered for the remote address that holds the most; bounded by limits.replayPerAddress [PROTO-23b]",
      registers,
      collect() {
        const r = replay();
        if (r) this.set(r.largestAddress);
      },
    });
    const cached = () => this.cachedSource?.();
    new Gauge({
      name: `${METRIC_PREFIX}registrations_cached`,
      help: "DeviceRegistrations in this replica's informer cache: its own (label gateway) that the operator has written a phase to",
      registers,
      collect() {
        const n = cached();
        if (n !== undefined) this.set(n);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}listen_overflows`,
      help: "Connections the kernel dropped on a full accept queue (TcpExt ListenOverflows, this network namespace); rising during reconnect storms means mqtt.listenBacklog or net.core.somaxconn is too small",
      registers,
      collect() {
        const n = readListenOverflows();
        if (n !== undefined) this.set(n);
      },
    });
    this.logLinesSuppressed = new Counter({
      name: `${METRIC_PREFIX}log_lines_suppressed_total`,
      help: "Log lines not written because their kind was over limits.logLinesPerKind",
      labelNames: ["kind"],
      registers,
    });
    // Every label value exists from the start, so dashboards and rate() see zeros.
    for (const kind of REFUSAL_KINDS) this.refusals.inc({ kind }, 0);
    for (const outcome of OUTCOMES)
      for (const transport of TRANSPORTS) this.enrollments.inc({ outcome, transport }, 0);
    for (const transport of TRANSPORTS) this.connections.set({ transport }, 0);
    for (const reason of SESSION_CLOSE_REASONS) this.sessionsClosed.inc({ reason }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** Where the replay gauges read their values at scrape time. */
  replaySource?: () => { size: number; evicted: number; largestAddress: number };

  /** Where registrations_cached reads the decision board's cache size at scrape time. */
  cachedSource?: () => number;

  refused(kind: RefusalKind): void {
    this.refusals.inc({ kind });
  }
}
