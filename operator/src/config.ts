import { hostname } from "node:os";
import { DEFAULT_NAMESPACE, OPERATOR_LEASE } from "@devreg/kube";
import type { Logger } from "pino";
import { v4 as uuidv4 } from "uuid";
import { z } from "zod";
import { type DevregEnv, parseDuration } from "@devreg/runtime";
import { OperatorError } from "./errors.ts";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A duration: milliseconds as a number, or text such as "15s", "500ms", "2m". */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});
const positiveMs = duration.pipe(z.number().int().positive());
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const operatorConfigSchema = z
  .object({
    /** One kubeconfig file (--kubeconfig); wins over envKubeconfig. */
    kubeconfig: z.string().min(1).optional(),
    /** $KUBECONFIG as the process read it: a colon-separated list, the first existing file is used. */
    envKubeconfig: z.string().min(1).optional(),
    namespace: z.string().max(63).regex(dns1123Label, "must be a DNS-1123 label").default(DEFAULT_NAMESPACE),
    concurrency: int(1, 256).default(16),
    /** 0 picks a free port (tests). */
    httpPort: int(0, 65535).default(8080),
    httpHost: z.string().min(1).default("0.0.0.0"),
    /** This replica's name in the Lease and in Events; defaults to hostname_uuid like client-go. */
    identity: z
      .string()
      .min(1)
      .max(128)
      .default(() => `${hostname()}_${uuidv4()}`.slice(0, 128)),
    leaseName: z.string().max(253).regex(dns1123Label, "must be a DNS-1123 label").default(OPERATOR_LEASE),
    leaseDurationMs: positiveMs.default(15_000),
    renewDeadlineMs: positiveMs.default(10_000),
    retryPeriodMs: positiveMs.default(2_000),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Events: queue bound, senders, sustained rate and burst (client-side, like client-go's). */
    eventQueueSize: int(1, 100_000).default(1000),
    eventConcurrency: int(1, 16).default(2),
    eventQps: z.coerce.number().positive().default(10),
    eventBurst: int(1, 10_000).default(25),
    /**
     * An Event per approval. Off by default: approvals are the routine, high-volume path (a
     * fleet enrolls thousands at once), and each Event is one more apiserver write and etcd
     * entry per device. The approval is on record anyway in the status (Approved condition),
     * the decision log and devreg_operator_decisions_total. Rejections, deactivations,
     * reactivations and pairing changes always get an Event.
     */
    approvalEvents: z
      .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
      .default(false),
    /**
     * Cleanup (cleanup.ts), like the CSR cleaner: Rejected registrations are deleted this long
     * after their decision, Pending ones this long after creation. Approved and Deactivated never.
     */
    rejectedTtlMs: positiveMs.default(60 * 60_000),
    pendingTtlMs: positiveMs.default(24 * 60 * 60_000),
    /** Rejections waiting may fix (PairingDisabled): deleted this soon, or as soon as pairing opens. */
    retryableRejectedTtlMs: positiveMs.default(60_000),
    cleanupIntervalMs: positiveMs.default(30_000),
    /** Full re-list of the informers this often. */
    resyncMs: positiveMs.default(5 * 60_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!(c.leaseDurationMs > c.renewDeadlineMs)) {
      ctx.addIssue({
        code: "custom",
        path: ["leaseDurationMs"],
        message: "must be greater than renewDeadline",
      });
    }
    if (!(c.renewDeadlineMs > c.retryPeriodMs * 1.2)) {
      ctx.addIssue({
        code: "custom",
        path: ["renewDeadlineMs"],
        message: "must be greater than 1.2 x retryPeriod",
      });
    }
  });

export type OperatorConfig = z.output<typeof operatorConfigSchema>;

/** What startOperator accepts: every field optional (defaults above), plus an optional pino logger. */
export type OperatorOptions = z.input<typeof operatorConfigSchema> & {
  /** Use this logger instead of creating one (logLevel is then ignored). */
  logger?: Logger;
};

/** Validates options once at start-up; the error lists every problem on one line. */
export function parseOperatorConfig(input: unknown): OperatorConfig {
  const r = operatorConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "options"}: ${i.message}`);
  throw new OperatorError("E_CONFIG", `invalid operator configuration: ${problems.join("; ")}`);
}

/** The operator's own environment variables (flags override them); DEVREG_NAMESPACE and LOG_LEVEL come from readEnv. */
export const ENV_VARS = {
  concurrency: "DEVREG_OPERATOR_CONCURRENCY",
  httpPort: "DEVREG_OPERATOR_HTTP_PORT",
  identity: "DEVREG_OPERATOR_IDENTITY",
  leaseDurationMs: "DEVREG_LEASE_DURATION",
  renewDeadlineMs: "DEVREG_RENEW_DEADLINE",
  retryPeriodMs: "DEVREG_RETRY_PERIOD",
  logLevel: "DEVREG_LOG_LEVEL",
  approvalEvents: "DEVREG_APPROVAL_EVENTS",
  rejectedTtlMs: "DEVREG_REJECTED_TTL",
  pendingTtlMs: "DEVREG_PENDING_TTL",
  retryableRejectedTtlMs: "DEVREG_RETRYABLE_REJECTED_TTL",
  cleanupIntervalMs: "DEVREG_CLEANUP_INTERVAL",
} as const satisfies Partial<Record<keyof OperatorConfig, string>>;

/**
 * Options from the environment (strings; validated by parseOperatorConfig), as the process read
 * it once with readEnv. POD_NAME and LOG_LEVEL are fallbacks for identity and logLevel
 * (deploy/operator.yaml sets them); $KUBECONFIG becomes envKubeconfig.
 */
export function optionsFromEnv(env: DevregEnv): Record<string, string> {
  const vars = env.vars ?? {};
  const out: Record<string, string> = {};
  if (env.namespace) out.namespace = env.namespace;
  if (env.kubeconfig) out.envKubeconfig = env.kubeconfig;
  for (const [key, name] of Object.entries(ENV_VARS)) {
    const v = vars[name];
    if (v !== undefined && v !== "") out[key] = v;
  }
  if (!out.identity && vars.POD_NAME) out.identity = vars.POD_NAME;
  if (!out.logLevel && env.logLevel) out.logLevel = env.logLevel;
  return out;
}
