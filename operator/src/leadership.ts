import type { KubeRest } from "@devreg/kube";
import type { Lifecycle, Logger } from "@devreg/runtime";
import type { OperatorConfig } from "./config.ts";
import { OperatorError } from "./errors.ts";
import { LeaderElector } from "./leader-election.ts";

/** A component that works only while this replica leads. */
export interface LeaderTask {
  startLeading(): void;
  /** May return a promise (work in flight finishing); the elector waits for it. */
  stopLeading(): void | Promise<void>;
}

/**
 * Campaigns for the Lease and runs the leader tasks while this replica holds it: started in
 * order on taking over (never once stopping), stopped on losing it or on stop.
 */
export class Leadership {
  private readonly elector: LeaderElector;
  private leading = false;
  private readonly waiters = new Set<() => void>();
  /** false on stop simulates a crash (failover tests): the lease stays held until it expires. */
  releaseOnStop = true;

  constructor(
    api: KubeRest,
    private readonly cfg: OperatorConfig,
    log: Logger,
    private readonly lc: Lifecycle,
    private readonly tasks: readonly LeaderTask[],
  ) {
    this.elector = new LeaderElector(api, {
      namespace: cfg.namespace,
      name: cfg.leaseName,
      identity: cfg.identity,
      leaseDurationMs: cfg.leaseDurationMs,
      renewDeadlineMs: cfg.renewDeadlineMs,
      retryPeriodMs: cfg.retryPeriodMs,
      log,
      onStartedLeading: () => this.started(),
      onStoppedLeading: () => this.stopped(),
    });
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  /** False when we believe we lead but have not renewed the lease for well past its duration. */
  healthy(): boolean {
    return this.elector.healthy();
  }

  /** Starts campaigning; on stop, steps down (the leader tasks finish) and releases the lease. */
  start(): void {
    this.elector.start();
    // Waits for in-flight reconciles, then releases the lease: cut short, the release would run
    // after the kube client closed and failover would wait a whole lease. Bounded only as a backstop.
    this.lc.onStop("leader election", () => this.elector.stop({ release: this.releaseOnStop }), 10 * 60_000);
  }

  /** Resolves once this replica leads with its tasks started, or rejects after `timeoutMs`. */
  waitForLeadership(timeoutMs: number): Promise<void> {
    if (this.elector.isLeader() && this.leading) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(() => {
        this.waiters.delete(done);
        reject(
          new OperatorError(
            "E_LEADER_ELECTION",
            `${this.cfg.identity} did not become leader in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  private started(): void {
    if (this.lc.stopping) return;
    for (const task of this.tasks) task.startLeading();
    this.leading = true;
    for (const w of this.waiters) w();
  }

  private async stopped(): Promise<void> {
    this.leading = false;
    await Promise.all(this.tasks.map((task) => task.stopLeading()));
  }
}
