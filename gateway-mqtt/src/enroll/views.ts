import type { KubeRest } from "@devreg/kube";
import type { Lifecycle, Logger } from "@devreg/runtime";
import type { GatewayConfig } from "../config.ts";
import { GatewayError, errorText } from "../errors.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { Reporter } from "../reporter.ts";
import { AllowlistView } from "./allowlist-view.ts";
import { DecisionBoard } from "./decision-board.ts";
import { PairingView } from "./pairing-view.ts";

export interface InformerViewsDeps {
  rest: KubeRest;
  cfg: Pick<GatewayConfig, "namespace" | "gatewayId">;
  log: Logger;
  metrics: GatewayMetrics;
  reporter: Reporter;
}

/**
 * The gateway's informer-backed views of Kubernetes: the decision board (its own
 * registrations and the requests waiting on them), and the read-only pairing and allowlist
 * views that refuse new keys without a write. The last two fail closed until listed.
 */
export class InformerViews {
  readonly board: DecisionBoard;
  readonly pairing: PairingView;
  readonly allowlist: AllowlistView;
  /** Why the registrations last failed to list or watch (e.g. a CRD without selectableFields: 400). */
  private lastListError: Error | undefined;

  constructor(private readonly deps: InformerViewsDeps) {
    const { rest, cfg, log, metrics, reporter } = deps;
    this.board = new DecisionBoard(rest, cfg.namespace, cfg.gatewayId, (n) => metrics.waiting.set(n));
    metrics.cachedSource = () => this.board.informer.size;
    this.board.informer.on("error", (err, retryInMs) => {
      this.lastListError = err;
      metrics.informerErrors.inc();
      log.warn({ err: errorText(err), retryInMs }, "registration informer failed; retrying");
      reporter.emit("kubeError", err);
    });
    this.pairing = new PairingView(rest, cfg.namespace);
    this.allowlist = new AllowlistView(rest, cfg.namespace);
    for (const [what, inf] of [
      ["pairing ConfigMap", this.pairing.informer],
      ["allowlist", this.allowlist.informer],
    ] as const) {
      inf.on("error", (err, retryInMs) => {
        metrics.informerErrors.inc();
        log.warn(
          { err: errorText(err), retryInMs },
          `${what} informer failed; new keys are refused until it lists`,
        );
      });
    }
    for (const inf of [this.board.informer, this.pairing.informer, this.allowlist.informer] as const) {
      inf.on("listenerError", (err, event) =>
        log.error({ err: errorText(err), event }, "an informer listener threw; the watch goes on"),
      );
    }
  }

  /**
   * Starts the three informers and waits for the registrations to list (fatal after
   * `syncTimeoutMs`). The pairing and allowlist views may list later: until then new keys are
   * refused (fail closed) and /readyz says why.
   */
  async start(life: Lifecycle, syncTimeoutMs: number): Promise<void> {
    const { board, pairing, allowlist } = this;
    const informers = [
      ["registrations", board.informer],
      ["pairing", pairing.informer],
      ["allowlist", allowlist.informer],
    ] as const;
    // The stop list runs last first: stopped in the order they start.
    for (const [what, inf] of informers.toReversed()) life.onStop(`${what} informer`, () => inf.stop());
    for (const [, inf] of informers) inf.start();
    try {
      await board.informer.waitForSync(syncTimeoutMs);
    } catch (e) {
      const ns = this.deps.cfg.namespace;
      throw new GatewayError(
        "E_GW_KUBE_UNAVAILABLE",
        `registrations in ${ns} could not be listed: ${errorText(this.lastListError ?? e)}`,
      );
    }
    const { log } = this.deps;
    await Promise.all([
      pairing.informer.waitForSync(syncTimeoutMs).catch(() => log.warn("pairing ConfigMap not listed yet")),
      allowlist.informer
        .waitForSync(Math.min(syncTimeoutMs, 5_000))
        .catch(() => log.warn("allowlist not listed yet")),
    ]);
  }

  /** Why the views cannot serve yet, or undefined. */
  readonly notReady = (): string | undefined =>
    !this.board.informer.hasSynced
      ? "informer not synced"
      : !this.pairing.informer.hasSynced
        ? "pairing ConfigMap not listed"
        : undefined;
}
