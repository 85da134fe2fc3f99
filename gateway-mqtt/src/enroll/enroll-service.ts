import { waitFor } from "@devreg/runtime";
import type { Broker } from "../broker/broker.ts";
import type { RequestAdmission } from "../limits/request-admission.ts";
import type { Reporter } from "../reporter.ts";
import type { EnrollContext } from "./context.ts";
import { MqttRequests } from "./mqtt-requests.ts";
import { type EnrollResult, type IncomingRequest, runEnroll } from "./pipeline.ts";

export interface EnrollServiceDeps {
  ctx: EnrollContext;
  broker: Broker;
  admission: RequestAdmission;
  reporter: Reporter;
  stopping(): boolean;
}

/**
 * Serves enroll requests from both transports: the MQTT requests the broker authorized
 * (MqttRequests, with the late decision after a "pending" answer, SPEC §14.3) and HTTP's.
 * Counts the requests in flight so a stop can drain them.
 */
export class EnrollService {
  private inFlight = 0;

  constructor(private readonly deps: EnrollServiceDeps) {
    deps.broker.on("request", new MqttRequests(deps, (p) => this.track(p)).request);
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** An HTTP request the listener admitted and parsed. */
  readonly http = (inc: IncomingRequest): Promise<EnrollResult> =>
    this.track(runEnroll(this.deps.ctx, inc, "http"));

  /** Stop: waiting requests get at most `graceMs` to be decided, then "pending"; waits for every answer. */
  async drain(graceMs: number): Promise<void> {
    this.deps.ctx.board.shortenDeadlines(graceMs);
    this.deps.ctx.board.dropFollowers();
    await waitFor(() => this.inFlight === 0, { timeoutMs: graceMs + 5_000, intervalMs: 10 }).catch(() =>
      this.deps.ctx.log.warn({ inFlight: this.inFlight }, "requests still in flight after the grace period"),
    );
  }

  /** Runs an enroll to its reply, counting it so a stop can wait for it. */
  private async track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await p;
    } finally {
      this.inFlight--;
    }
  }
}
