import { type Logger, pino } from "pino";
import { type BucketSpec, KeyedBuckets } from "./token-bucket.ts";

export type { Logger } from "pino";

/**
 * Never log payloads, keys or signatures: device ids, request ids, outcomes, reasons and
 * remote addresses only. The redact list is a second line of defence for fields that must
 * never appear even by accident.
 */
export const REDACT_PATHS = [
  "key",
  "privateKey",
  "privateKeyPem",
  "seed",
  "payload",
  "frame",
  "request",
  "password",
  "token",
  "*.key",
  "*.privateKey",
  "*.privateKeyPem",
  "*.payload",
  "*.password",
  "*.token",
];

export interface LoggerOptions {
  /** Component name, bound on every line (`component`). */
  component: string;
  /** Explicit level; else LOG_LEVEL (read by the caller with readEnv); else "info". */
  level?: string | undefined;
  /** Extra fields bound on every line (gatewayId, identity…). */
  bindings?: Record<string, unknown>;
  /** Embedders pass their own logger; the component gets a child of it. */
  base?: Logger | undefined;
  stream?: "stdout" | "stderr";
}

/**
 * The one logger factory: synchronous JSON lines (a line written before a crash is never lost;
 * the chaos suite reads decisions from them), redaction, the level from the caller or LOG_LEVEL.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const bindings = { component: opts.component, ...opts.bindings };
  if (opts.base) return opts.base.child(bindings);
  const dest = pino.destination({ fd: opts.stream === "stderr" ? 2 : 1, sync: true });
  return pino(
    { level: opts.level ?? "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    dest,
  ).child(bindings);
}

/** A logger that drops everything (tests, embedders that log elsewhere). */
export const silentLogger = (): Logger => pino({ level: "silent" });

type GatedLevel = "error" | "warn" | "info" | "debug";

/**
 * Rate-limits log lines per kind (a refusal kind, "answered:busy", a handler error…) with one
 * token bucket per kind: a flood of one kind cannot turn into a logging DoS or drown the
 * others. Lines over the budget are counted; the count rides on the next line of that kind as
 * `suppressed`.
 */
export class LogGate {
  private readonly budget: KeyedBuckets;
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    spec: BucketSpec,
    private readonly onSuppressed: (kind: string) => void = () => {},
    maxKinds = 256,
  ) {
    this.budget = new KeyedBuckets(spec, maxKinds);
  }

  line(kind: string, level: GatedLevel, fields: Record<string, unknown>, msg: string): void {
    if (!this.log.isLevelEnabled(level)) return;
    if (!this.budget.tryTake(kind)) {
      this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
      this.onSuppressed(kind);
      return;
    }
    const skipped = this.suppressed.get(kind);
    if (skipped !== undefined) {
      this.suppressed.delete(kind);
      this.log[level]({ ...fields, suppressed: skipped }, msg);
    } else this.log[level](fields, msg);
  }
}
