import type { ReplyStatus } from "@devreg/protocol";
import type { SessionPhase } from "../broker/broker.ts";

/**
 * [PROTO-5a] The phase a device's MQTT session enters after a reply with this status, whether
 * it answers a request or comes later (SPEC §14.3): an approved device may keep its session.
 */
export const sessionPhaseAfter = (status: ReplyStatus): SessionPhase =>
  status === "pending"
    ? "pending"
    : status === "busy"
      ? "busy"
      : status === "approved"
        ? "enrolled"
        : "final";
