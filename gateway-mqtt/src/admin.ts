import { type Lifecycle, type Logger, isRuntimeError, startHealthServer } from "@devreg/runtime";
import type { Registry } from "prom-client";
import type { GatewayConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";
import type { ConnectionLimiter } from "./limits/connection-limiter.ts";

type Check = () => string | undefined;

/**
 * Why the gateway should get no traffic now: "stopping", "starting", then the checks its
 * components registered, in order (informers listed, connections below their caps).
 */
export class Readiness {
  private readonly checks: Check[] = [];
  private started = false;

  constructor(private readonly stopping: () => boolean) {}

  require(...checks: Check[]): void {
    this.checks.push(...checks);
  }

  markStarted(): void {
    this.started = true;
  }

  readonly notReady = (): string | undefined => {
    if (this.stopping()) return "stopping";
    if (!this.started) return "starting";
    for (const check of this.checks) {
      const why = check();
      if (why) return why;
    }
    return undefined;
  };
}

/** Not ready once `fraction` of a connection cap is in use, so the Service routes elsewhere. */
export function belowCap(transport: string, connections: ConnectionLimiter, fraction: number): Check {
  return () =>
    connections.nearCap(fraction)
      ? `${transport} connections near the cap (${connections.size}/${connections.caps.max})`
      : undefined;
}

/**
 * The operator-facing port (/healthz, /readyz, /metrics), never shown to devices; loopback
 * unless `admin.host` says otherwise. Closed last on stop.
 */
export async function startAdmin(
  settings: GatewayConfig["admin"],
  deps: { registry: Registry; log: Logger; readiness: Readiness; life: Lifecycle },
): Promise<number> {
  try {
    const server = await startHealthServer({
      host: settings.host,
      port: settings.port,
      registry: deps.registry,
      log: deps.log,
      notReady: deps.readiness.notReady,
    });
    deps.life.onStop("admin server", () => server.close());
    return server.port;
  } catch (e) {
    if (isRuntimeError(e, "E_LISTEN")) throw new GatewayError("E_GW_LISTEN", `admin: ${e.message}`);
    throw e;
  }
}
