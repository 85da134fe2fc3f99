import { type Logger, pino } from "pino";
import { type BucketSpec, KeyedBuckets } from "@devreg/runtime";

/**
 * Structured logs. Never log payloads, keys or signatures: device ids, request ids,
 * outcomes, reasons and remote addresses only. The redact list is a second line of
 * defence for fields that must never appear even by accident.
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
  "*.key",
  "*.privateKey",
  "*.privateKeyPem",
  "*.payload",
  "*.password",
];

export function createLogger(
  level: string,
  base?: Logger,
  gatewayId?: string,
  stream: "stdout" | "stderr" = "stdout",
): Logger {
  const bindings = { component: "gateway-mqtt", gatewayId };
  if (base) return base.child(bindings);
  const dest = pino.destination({ fd: stream === "stderr" ? 2 : 1, sync: true });
  return pino({ level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, dest).child(bindings);
}

type GatedLevel = "error" | "warn" | "info" | "debug";

/**
 * Rate-limits log lines per kind (a refusal kind, "answered:busy", a handler error…), with
 * the gateway's one token bucket: a flood of one kind cannot turn into a logging DoS or
 * drown the others. Lines over the budget are counted; the count rides on the next line of
 * that kind as `suppressed`. [issue 13]
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
