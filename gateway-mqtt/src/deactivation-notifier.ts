import type { DeviceRegistration } from "@devreg/kube";
import type { Logger } from "@devreg/runtime";
import type { Broker } from "./broker/broker.ts";
import { deactivationPush, deviceIdOf } from "./deactivation.ts";
import type { Decision } from "./enroll/decision.ts";
import { errorText } from "./errors.ts";
import type { GatewaySigner } from "./key-store.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { Reporter } from "./reporter.ts";

export interface DeactivationNotifierDeps {
  broker: Broker;
  signer: GatewaySigner;
  log: Logger;
  metrics: GatewayMetrics;
  reporter: Reporter;
}

/**
 * Tells a device connected here that it was deactivated: a signed notice on its reply topic,
 * then the disconnect. A device connected elsewhere, or not at all, learns at its next enroll.
 */
export class DeactivationNotifier {
  constructor(private readonly deps: DeactivationNotifierDeps) {}

  /** A registration this replica owns got a decision (the decision board's "decided"). */
  readonly decided = (reg: DeviceRegistration, decision: Decision): void => {
    if (decision.status !== "deactivated") return;
    const { broker, log } = this.deps;
    const deviceId = deviceIdOf(reg);
    const client = deviceId ? broker.client(deviceId) : undefined;
    if (!deviceId || !client) {
      log.debug({ deviceId }, "deactivated device not connected here; it learns at its next enroll");
      return;
    }
    let push: ReturnType<typeof deactivationPush>;
    try {
      const now = Math.floor(Date.now() / 1000);
      push = deactivationPush(this.deps.signer, deviceId, decision.deviceUUID, decision.reason, now);
    } catch (e) {
      log.error({ deviceId, err: errorText(e) }, "deactivation notice could not be built; disconnecting");
      client.close();
      return;
    }
    broker
      .pushAndDisconnect(client, push.frame)
      .then((sent) => {
        this.deps.metrics.deactivationPushes.inc();
        log.info({ deviceId, sent, status: push.reply.status }, "deactivation pushed; client disconnected");
        this.deps.reporter.emit("deactivated", { deviceId });
      })
      .catch((e) => log.warn({ deviceId, err: errorText(e) }, "deactivation push failed"));
  };
}
