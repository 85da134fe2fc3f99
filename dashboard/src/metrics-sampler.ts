import { EventEmitter } from "node:events";
import type { ComponentHealth, MetricsPoint } from "./shared/stream.ts";
import { GATEWAY_ENROLLMENTS, OPERATOR_DECISIONS, latencyPercentiles, ratesByLabel } from "./metrics-view.ts";

export interface MetricsTargets {
  /** Base URL of the gateway's admin port (serves /metrics and /readyz), e.g. http://127.0.0.1:9090 */
  gateway?: string;
  /** Base URL of the operator's probe port, e.g. http://127.0.0.1:8081 */
  operator?: string;
}

interface Scrape {
  at: number;
  text: string;
}

type SamplerEvents = { point: [point: MetricsPoint] };

/**
 * Scrapes the gateway's and operator's /metrics and /readyz every `intervalMs` (they are
 * Prometheus pull endpoints: scraping is the only way to read them) and emits one chart
 * point per scrape. Keeps the last `historySize` points for pages that connect later.
 * An unreachable component is a health fact, never an error.
 */
export class MetricsSampler extends EventEmitter<SamplerEvents> {
  readonly history: MetricsPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { gateway?: Scrape; operator?: Scrape } = {};
  private busy = false;

  constructor(
    private readonly targets: MetricsTargets,
    private readonly intervalMs = 2_000,
    private readonly historySize = 150,
  ) {
    super();
  }

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [gw, op] = await Promise.all([this.read("gateway"), this.read("operator")]);
      const point: MetricsPoint = {
        t: Math.round(Date.now() / 1000),
        enrollRate: {},
        latencyMs: { p50: null, p90: null, p99: null },
        decisionRate: {},
        health: [gw.health, op.health],
      };
      const prevGw = this.last.gateway;
      if (gw.scrape && prevGw) {
        const secs = (gw.scrape.at - prevGw.at) / 1000;
        point.enrollRate = ratesByLabel(prevGw.text, gw.scrape.text, GATEWAY_ENROLLMENTS, "outcome", secs);
        point.latencyMs = latencyPercentiles(prevGw.text, gw.scrape.text);
      }
      const prevOp = this.last.operator;
      if (op.scrape && prevOp) {
        const secs = (op.scrape.at - prevOp.at) / 1000;
        point.decisionRate = ratesByLabel(prevOp.text, op.scrape.text, OPERATOR_DECISIONS, "outcome", secs);
      }
      this.last = { gateway: gw.scrape, operator: op.scrape };
      this.history.push(point);
      if (this.history.length > this.historySize) this.history.shift();
      this.emit("point", point);
    } finally {
      this.busy = false;
    }
  }

  private async read(name: "gateway" | "operator"): Promise<{ scrape?: Scrape; health: ComponentHealth }> {
    const base = this.targets[name];
    if (!base) return { health: { name, ready: false, detail: "not configured" } };
    const get = async (path: string) => {
      const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(3_000) });
      return { status: res.status, text: await res.text() };
    };
    try {
      const [ready, metrics] = await Promise.all([get("/readyz"), get("/metrics")]);
      return {
        scrape: metrics.status === 200 ? { at: Date.now(), text: metrics.text } : undefined,
        health: { name, url: base, ready: ready.status === 200, detail: ready.text.trim().slice(0, 200) },
      };
    } catch (e) {
      return { health: { name, url: base, ready: false, detail: `unreachable: ${(e as Error).message}` } };
    }
  }
}
