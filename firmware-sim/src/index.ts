/**
 * @devreg/firmware-sim: virtual MCUs that enroll with devreg over MQTT, one at a time
 * (VirtualMcu) or by the thousand (Fleet). See README.md.
 */
export { DEFAULT_RETRY, reconnectDelayMs, type RetrySettings } from "./backoff.ts";
export {
  CRYPTO_BACKENDS,
  type CryptoBackendName,
  type DeviceCrypto,
  deviceCrypto,
  nodeCrypto,
  tweetnaclCrypto,
} from "./device-crypto.ts";
export { SimError, type SimErrorCode } from "./errors.ts";
export {
  Fleet,
  type FinalOutcome,
  type FleetEvents,
  type FleetOptions,
  type FleetProgress,
  type FleetSummary,
  runFleet,
} from "./fleet.ts";
export { identityFileName, loadFleetIdentities } from "./fleet-identities.ts";
export {
  createIdentity,
  DeviceIdentity,
  IDENTITY_FILE_VERSION,
  type IdentityFile,
  loadIdentity,
  loadOrCreateIdentity,
  parseIdentity,
  saveIdentity,
  serializeIdentity,
} from "./identity.ts";
export {
  type FailureReason,
  type FinalPhase,
  initialState,
  isFinal,
  type MachineEnv,
  type MachineSettings,
  type McuCounters,
  type McuEffect,
  type McuEvent,
  type McuPhase,
  type McuState,
  nextWake,
  type Step,
  transition,
} from "./machine.ts";
export { checkMetadata } from "./metadata.ts";
export { type Percentiles, percentile, summarize } from "@devreg/runtime";
export { probeBroker } from "./probe.ts";
export { MAX_SOURCE_ADDRESSES, isLoopbackUrl, sourceAddress } from "./source-address.ts";
export {
  DEFAULT_DEADLINE_MS,
  DEFAULT_METADATA,
  type McuOutcome,
  VirtualMcu,
  type VirtualMcuEvents,
  type VirtualMcuOptions,
} from "./virtual-mcu.ts";
