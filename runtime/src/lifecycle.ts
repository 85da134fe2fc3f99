import type { Logger } from "pino";
import { errorText } from "./errors.ts";
import { within } from "./wait.ts";

interface StopStep {
  name: string;
  stop: () => unknown;
  timeoutMs: number;
}

/**
 * A process's ordered stop list. Each component registers how it stops as it starts; `stop()`
 * runs the steps last-registered first (like `defer`), once, each bounded by its timeout, and a
 * failing step is logged without skipping the rest. The same list unwinds a start-up that
 * failed half way, so shutdown is written once.
 */
export class Lifecycle {
  private readonly steps: StopStep[] = [];
  private stopped: Promise<void> | undefined;

  constructor(private readonly log?: Logger) {}

  /** True once stop() was called: components refuse new work and drain. */
  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /** Registers a stop step. A step registered after stop() began runs once the list is done. */
  onStop(name: string, stop: () => unknown, timeoutMs = 5_000): void {
    const step = { name, stop, timeoutMs };
    if (this.stopped) void this.stopped.then(() => this.run(step));
    else this.steps.push(step);
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (let step = this.steps.pop(); step; step = this.steps.pop()) await this.run(step);
    })();
    return this.stopped;
  }

  private async run(step: StopStep): Promise<void> {
    let failed: unknown;
    const p = Promise.resolve()
      .then(step.stop)
      .catch((e) => {
        failed = e;
      });
    if (!(await within(p, step.timeoutMs))) {
      this.log?.warn({ step: step.name, timeoutMs: step.timeoutMs }, "stop step timed out; going on");
    } else if (failed !== undefined) {
      this.log?.warn({ step: step.name, err: errorText(failed) }, "stop step failed; going on");
    }
  }
}
