import { type KubeRest, PAIRING_CONFIGMAP } from "@devreg/kube";
import type { Logger } from "@devreg/runtime";
import type { Caches } from "./caches.ts";
import { Cleaner } from "./cleanup.ts";
import type { OperatorConfig } from "./config.ts";
import type { EventRecorder } from "./events.ts";
import type { LeaderTask } from "./leadership.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { PairingController } from "./pairing-controller.ts";
import type { PairingState } from "./pairing.ts";
import { WindowBudget } from "./window-budget.ts";

interface PairingAndCleanupDeps {
  api: KubeRest;
  cfg: OperatorConfig;
  caches: Pick<Caches, "regs" | "registrations" | "pairingConfigMap">;
  log: Logger;
  metrics: OperatorMetrics;
  recordEvent: EventRecorder["record"];
}

/**
 * The pairing window and what hangs on it: its state and Events (and, as leader, closing it
 * when it expires), the budget of approvals a window allows, and the cleaner that deletes
 * expired registrations, sweeping at once when a window opens.
 */
export class PairingAndCleanup implements LeaderTask {
  readonly budget: WindowBudget;
  private readonly pairing: PairingController;
  private readonly cleaner: Cleaner;
  private leading = false;
  private wasOpen = false;

  constructor(d: PairingAndCleanupDeps) {
    const { api, cfg, caches, log, metrics } = d;
    const ns = cfg.namespace;
    const cm = caches.pairingConfigMap;
    this.pairing = new PairingController({
      rest: api,
      namespace: ns,
      informer: cm,
      log,
      recordEvent: d.recordEvent,
    });
    this.budget = new WindowBudget({
      rest: api,
      namespace: ns,
      cached: () => cm.get(`${ns}/${PAIRING_CONFIGMAP}`),
      log,
      onWrite: (result) => metrics.budgetWrites.inc({ result }),
    });
    this.cleaner = new Cleaner({
      regs: caches.regs,
      values: () => caches.registrations.values(),
      ttls: cfg,
      intervalMs: cfg.cleanupIntervalMs,
      pairingOpen: () => this.pairing.state().open,
      log,
      onDeleted: (cause) => metrics.deletions.inc({ cause }),
    });
    for (const ev of ["add", "update", "delete", "synced"] as const) cm.on(ev, () => this.evaluate());
  }

  state(): PairingState {
    return this.pairing.state();
  }

  startLeading(): void {
    this.leading = true;
    this.pairing.startLeading();
    this.cleaner.start();
  }

  stopLeading(): void {
    this.leading = false;
    this.pairing.stopLeading();
    this.cleaner.stop();
  }

  private evaluate(): void {
    this.pairing.evaluate();
    const open = this.pairing.state().open;
    // A window opened: rejections it fixes (PairingDisabled) go now, so their devices start afresh.
    if (open && !this.wasOpen && this.leading) void this.cleaner.sweep();
    this.wasOpen = open;
  }
}
