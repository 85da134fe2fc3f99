/**
 * @devreg/gateway-mqtt: the devreg gateway — an MQTT 3.1.1 endpoint for devices (plus HTTP)
 * that verifies signed enroll requests, records DeviceRegistrations and answers each
 * device with the operator's decision, signed with the gateway's key. See README.md.
 */
export { startGateway, type GatewayHandle } from "./gateway.ts";
export {
  type GatewayOptions,
  type GatewayConfig,
  GatewayOptionsSchema,
  parseGatewayOptions,
  defaultGatewayId,
} from "./config.ts";
export { GatewayError, type GatewayErrorCode, isGatewayError } from "./errors.ts";
export type { GatewayEvents } from "./events.ts";
export { REFUSAL_KINDS, type RefusalKind } from "./broker/refusals.ts";
export { METRIC_PREFIX } from "./metrics.ts";
export { httpStatusForReply } from "./http/status.ts";
export { loadGatewayKey } from "./key-store.ts";
