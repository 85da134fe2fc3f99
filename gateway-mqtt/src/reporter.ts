import { EventEmitter } from "node:events";
import { type BucketSpec, LogGate, type Logger } from "@devreg/runtime";
import type { RefusalKind } from "./broker/refusals.ts";
import { errorText } from "./errors.ts";
import type { GatewayEvents } from "./events.ts";
import type { GatewayMetrics } from "./metrics.ts";

export interface RefusalFields {
  clientId?: string;
  remote?: string;
  detail?: string;
}

/**
 * How the gateway's components report what happened: events for embedders, metrics, and log
 * lines rate-limited per kind (refusals, answers, handler errors) so a flood cannot turn into
 * a logging DoS; the count of suppressed lines rides on the next one.
 */
export class Reporter {
  readonly events = new EventEmitter<GatewayEvents>();
  readonly logGate: LogGate;

  constructor(
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
    logLinesPerKind: BucketSpec,
  ) {
    this.logGate = new LogGate(log, logLinesPerKind, (kind) => metrics.logLinesSuppressed.inc({ kind }));
  }

  /** Tells embedders; a throwing listener is logged, never thrown into the gateway. */
  emit<K extends keyof GatewayEvents>(name: K, ...args: GatewayEvents[K]): void {
    try {
      (this.events.emit as (n: K, ...a: GatewayEvents[K]) => boolean)(name, ...args);
    } catch (e) {
      this.log.error({ event: name, err: errorText(e) }, "gateway event listener threw");
    }
  }

  /** Every refusal is counted, logged (gated per kind) and emitted. */
  readonly refuse = (kind: RefusalKind, f: RefusalFields): void => {
    this.metrics.refused(kind);
    this.logGate.line(
      `refused:${kind}`,
      "info",
      { refusal: kind, clientId: f.clientId, remote: f.remote, detail: f.detail },
      "refused",
    );
    this.emit("refused", { kind, clientId: f.clientId, remote: f.remote });
  };

  /** [PROTO-41] A proven CONNECT took over the session of the same client id. */
  readonly takeover = (clientId: string, remote: string): void => {
    this.metrics.takeovers.inc();
    // Gated like refusals: a key holder reconnecting in a loop must not become a logging DoS.
    this.logGate.line(
      "takeover",
      "warn",
      { clientId, remote },
      "session takeover: a new connection took this client id",
    );
    this.emit("takeover", { clientId, remote });
  };
}
