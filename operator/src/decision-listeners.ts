import type { DecisionRecord } from "./reconciler.ts";

/** Who hears about each decision this replica writes (tests, benchmarks, embedders). */
export class DecisionListeners {
  private readonly listeners = new Set<(d: DecisionRecord) => void>();

  /** Returns an unsubscribe. */
  add(listener: (d: DecisionRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(d: DecisionRecord): void {
    for (const l of this.listeners) {
      try {
        l(d);
      } catch {
        // a listener's bug must not fail the reconcile that already succeeded
      }
    }
  }
}
