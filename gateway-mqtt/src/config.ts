import { hostname } from "node:os";
import { DEFAULT_NAMESPACE } from "@devreg/kube";
import { type DevregEnv, IPV6_LIMIT_PREFIX_LENGTH, type Logger, readEnv } from "@devreg/runtime";
import { z } from "zod";
import { GatewayError } from "./errors.ts";
import { FD_RESERVE, connectionFdBudget, openFileLimit } from "./limits/fd-budget.ts";

const port = z.number().int().min(0).max(65535);
const bucket = (ratePerSecond: number, burst: number) =>
  z
    .object({
      ratePerSecond: z.number().positive().default(ratePerSecond),
      burst: z.number().min(1).default(burst),
    })
    .prefault({});

/** Kubernetes label value: what LABEL_GATEWAY carries. */
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Connection caps by default share what the process's open-file limit leaves after a
 * reserve: 70 % for MQTT, 20 % for HTTP (so the sum stays below `ulimit -n`). [issue 13]
 */
const FD_BUDGET = connectionFdBudget(openFileLimit());
const caps = (share: number, ceiling: number, perAddress: number) =>
  z
    .object({
      /** Open connections at most; new ones beyond it are closed at accept. */
      max: z
        .number()
        .int()
        .min(1)
        .default(Math.max(1, Math.min(ceiling, Math.floor(FD_BUDGET * share)))),
      /** Open connections at most from one remote address (IPv6: one prefix, limits.ipv6PrefixLength). */
      perAddress: z.number().int().min(1).default(perAddress),
    })
    .prefault({});

/** [PROTO-23b] Default of limits.replayPerAddress (see there for why). */
const DEFAULT_REPLAY_PER_ADDRESS = 10_000;

/** A PEM given inline, or a path to read it from. */
const pemOrPath = z.string().min(1);

export const GatewayOptionsSchema = z.object({
  /** One kubeconfig file; default: resolveKubeConfig order (envKubeconfig, local control plane, in-cluster, ~/.kube). */
  kubeconfig: z.string().optional(),
  /** $KUBECONFIG as the process read it (default: from the env given): a colon-separated list, the first existing file is used. */
  envKubeconfig: z.string().optional(),
  namespace: z.string().regex(DNS1123_LABEL, "namespace must be a DNS-1123 label").default(DEFAULT_NAMESPACE),
  /** This replica's id: the value of the gateway label on registrations it creates (e.g. the pod name). */
  gatewayId: z
    .string()
    .regex(LABEL_VALUE, "gatewayId must be a Kubernetes label value")
    .default(defaultGatewayId()),
  mqtt: z
    .object({
      host: z.string().default("0.0.0.0"),
      port: port.default(1883),
      /**
       * Accept queue of the MQTT listeners (TCP and WebSocket). A fleet reconnecting at once after
       * a power cut or a gateway restart opens thousands of TCP connections within milliseconds;
       * Node's default (511) overflows, and each dropped SYN costs its device a kernel
       * retransmission delay of 1, 3, 7, 15, 31 s. The kernel caps it at net.core.somaxconn.
       */
      listenBacklog: z.number().int().min(16).max(65_535).default(8_192),
      /** A connection that has not sent CONNECT within this long is closed [PROTO-5]. */
      connectTimeoutMs: z.number().int().min(100).max(10_000).default(3_000),
      /** [PROTO-5] Largest keepalive accepted in CONNECT; 0 (no keepalive) is always refused. */
      maxKeepaliveSeconds: z.number().int().min(1).max(65_535).default(300),
      /** A session with no request for this long (none in flight, no late decision due) is closed. */
      idleTimeoutMs: z.number().int().min(1_000).default(60_000),
      /** A session is closed this long after a final reply other than approved (rejected, deactivated, error). */
      closeAfterFinalReplyMs: z.number().int().min(100).default(30_000),
      /**
       * An approved device's session (it proved its key at CONNECT and was approved) may stay to
       * hear a deactivation notice [PROTO-5a]; it is closed after this long without a request.
       * 0 (default): kept while its keepalive holds, bounded by the connection caps.
       */
      enrolledIdleMs: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /** MQTT over WebSocket (same broker, same ACL). */
  ws: z
    .object({ host: z.string().default("0.0.0.0"), port: port, path: z.string().default("/mqtt") })
    .optional(),
  /** With cert+key, the MQTT and WebSocket listeners speak TLS. PEM text or file paths. */
  tls: z.object({ cert: pemOrPath, key: pemOrPath, ca: pemOrPath.optional() }).optional(),
  /** Device-facing HTTP (POST /enroll); false turns it off. */
  http: z
    .union([
      z.literal(false),
      z.object({
        host: z.string().default("0.0.0.0"),
        port: port.default(8080),
        /** Whole request head must arrive within this long (checked every second). */
        headersTimeoutMs: z.number().int().min(100).default(5_000),
        /** Whole request, body included, must arrive within this long. */
        requestTimeoutMs: z.number().int().min(100).default(15_000),
        /** A keep-alive connection with no new request for this long is closed. */
        keepAliveTimeoutMs: z.number().int().min(100).default(5_000),
        /** A socket with no traffic either way for this long is destroyed (e.g. a reply never read). */
        socketIdleTimeoutMs: z.number().int().min(100).default(20_000),
      }),
    ])
    .prefault({}),
  /**
   * Operator-facing /healthz, /readyz, /metrics, on their own port so devices never reach
   * them. Loopback by default; set host "0.0.0.0" for probes and scraping from outside the pod.
   */
  admin: z.object({ host: z.string().default("127.0.0.1"), port: port.default(9090) }).prefault({}),
  /** Gateway signing key: PKCS#8 PEM text or a 32-byte seed. */
  key: z.union([z.string().min(1), z.instanceof(Uint8Array)]).optional(),
  /** Key file (PEM): read if present, else generated and written with mode 0600. */
  keyFile: z.string().optional(),
  /** How long a request waits for the operator before it is answered "pending". */
  decisionTimeoutMs: z.number().int().min(1).default(10_000),
  pendingRetryAfterSeconds: z.number().int().min(1).max(86_400).default(10),
  /**
   * After a "pending" answer over MQTT, publish the decision with the same requestId if it
   * comes within this long and the device is still connected (SPEC §14.3, PROTO-31). 0: off.
   */
  latePushMs: z.number().int().min(0).default(60_000),
  busyRetryAfterSeconds: z.number().int().min(1).max(86_400).default(5),
  /** [PROTO-22] accepted clock skew. */
  maxSkewSeconds: z.number().int().min(1).optional(),
  /** On stop: how long in-flight requests may still get a decision before they are answered "pending". */
  stopGraceMs: z.number().int().min(0).default(2_000),
  /** How long the registration informer may take to sync at start-up. */
  syncTimeoutMs: z.number().int().min(1).default(30_000),
  limits: z
    .object({
      /** Kubernetes writes (create, adopt) in flight; when all are taken devices get "busy". */
      maxKubeWritesInFlight: z.number().int().min(1).default(32),
      /** Requests waiting for a decision; beyond this devices get "busy". */
      maxWaiting: z.number().int().min(1).default(10_000),
      /** Largest MQTT packet (Remaining Length) read at all; larger ones close the connection. */
      maxPacketBytes: z.number().int().min(64).default(4096),
      /**
       * MQTT packets one connection may send (any kind). A device sends about five per request
       * plus one per keepalive; past this the connection is destroyed before the packet is parsed.
       */
      packetsPerConnection: bucket(20, 100),
      publishPerClient: bucket(1, 5),
      publishGlobal: bucket(1000, 2000),
      connectGlobal: bucket(500, 1000),
      connectPerAddress: bucket(100, 200),
      /** Connects per address still admitted while connectGlobal is exhausted (quiet addresses). */
      connectQuietPerAddress: bucket(1, 10),
      /** CONNECTs that would take over a connected client's id, per client id. */
      takeoverPerClient: bucket(1 / 30, 3),
      httpPerAddress: bucket(50, 100),
      /**
       * How per-address limits group IPv6 remote addresses: by this many leading bits (a client
       * normally holds a whole /64, so per full address it would get 2^64 budgets). IPv4 and
       * IPv4-mapped IPv6 are always one address each (runtime limitKey).
       */
      ipv6PrefixLength: z.number().int().min(32).max(128).default(IPV6_LIMIT_PREFIX_LENGTH),
      /** How many client ids / addresses the per-key buckets remember. */
      maxTrackedKeys: z.number().int().min(16).default(100_000),
      /** Open MQTT connections (TCP, TLS and WebSocket together) and per remote address. */
      mqttConnections: caps(0.7, 50_000, 1_000),
      /** Open HTTP connections and per remote address. */
      httpConnections: caps(0.2, 10_000, 256),
      /** /readyz reports not ready once this share of a connection cap is in use. */
      notReadyAtCapFraction: z.number().gt(0).max(1).default(0.9),
      /** [PROTO-23] Nonces remembered at most, all devices together. */
      replayMaxEntries: z.number().int().min(16).default(100_000),
      /** [PROTO-23] Nonces remembered at most per device; its own oldest go first beyond it. */
      replayPerDevice: z.number().int().min(2).default(32),
      /**
       * [PROTO-23b] Nonces remembered at most per remote address; beyond it that address gets
       * "busy" (CONNACK 3) and nothing is forgotten. Anyone can make keys, so without this a few
       * addresses proving CONNECTs with fresh keys fill the memory for every device. Default
       * 10 000 (10 % of the default replayMaxEntries; capped at replayMaxEntries when unset): a
       * site behind one NAT may enroll or reconnect up to that many devices per replay window
       * (10 min) before its devices are told busy, and filling the memory takes
       * replayMaxEntries / replayPerAddress (10) addresses. At most replayMaxEntries.
       */
      replayPerAddress: z.number().int().min(1).optional(),
      /** Requests failing verification per client (MQTT); beyond it the connection is closed. */
      invalidPerClient: bucket(0.1, 5),
      /** Log lines per kind (refusal, answer, handler error); the rest are counted and summed up. */
      logLinesPerKind: bucket(5, 20),
    })
    .prefault({})
    .superRefine((l, ctx) => {
      const fdLimit = openFileLimit();
      const used = l.mqttConnections.max + l.httpConnections.max;
      if (fdLimit !== undefined && used > fdLimit - FD_RESERVE / 2)
        ctx.addIssue({
          code: "custom",
          path: ["mqttConnections", "max"],
          message: `MQTT + HTTP connection caps (${used}) must stay below the open-file limit ${fdLimit} less a reserve; raise ulimit -n or lower the caps`,
        });
      if (l.replayPerAddress !== undefined && l.replayPerAddress > l.replayMaxEntries)
        ctx.addIssue({
          code: "custom",
          path: ["replayPerAddress"],
          message: `replayPerAddress (${l.replayPerAddress}) must be at most replayMaxEntries (${l.replayMaxEntries}): one address cannot hold more than the whole memory`,
        });
    })
    .transform((l) => ({
      ...l,
      replayPerAddress: l.replayPerAddress ?? Math.min(DEFAULT_REPLAY_PER_ADDRESS, l.replayMaxEntries),
    })),
  /** Default: $LOG_LEVEL, else info. */
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Where a new logger writes its JSON lines (the CLI keeps stdout for the public key). */
  logStream: z.enum(["stdout", "stderr"]).default("stdout"),
  /** A pino logger to use instead of a new one (e.g. the CLI's). */
  logger: z.custom<Logger>((v) => typeof v === "object" && v !== null && "child" in v).optional(),
});

export type GatewayOptions = z.input<typeof GatewayOptionsSchema>;
export type GatewayConfig = z.output<typeof GatewayOptionsSchema>;

/**
 * Validates the options once, at start-up. What the gateway takes from the environment (as the
 * process read it): LOG_LEVEL when no level is given (and checked like one), KUBECONFIG.
 */
export function parseGatewayOptions(opts: GatewayOptions, env: DevregEnv = readEnv()): GatewayConfig {
  const withEnv: Record<string, unknown> = { ...opts }; // the env's values are checked like any option
  if (opts.logLevel === undefined && env.logLevel) withEnv.logLevel = env.logLevel;
  if (opts.envKubeconfig === undefined && env.kubeconfig) withEnv.envKubeconfig = env.kubeconfig;
  const r = GatewayOptionsSchema.safeParse(withEnv);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`).join("; ");
    throw new GatewayError("E_GW_CONFIG", `invalid gateway options: ${issues}`);
  }
  return r.data;
}

/** The host name (the pod name in Kubernetes), made a valid label value. */
export function defaultGatewayId(): string {
  const h = hostname()
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 63)
    .replace(/[^A-Za-z0-9]+$/, "");
  return h || "gateway";
}
