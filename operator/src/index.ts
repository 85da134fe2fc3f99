/** @devreg/operator: the DeviceRegistration operator (README.md). */
export { startOperator, type OperatorHandle } from "./operator.ts";
export {
  ENV_VARS,
  type OperatorConfig,
  type OperatorOptions,
  operatorConfigSchema,
  optionsFromEnv,
  parseOperatorConfig,
} from "./config.ts";
export {
  type PairingCode,
  type PairingReadout,
  type PairingState,
  type SetPairingOptions,
  parsePairing,
  parseRfc3339,
  pairingPath,
  readPairing,
  setPairing,
  newWindowId,
} from "./pairing.ts";
export {
  CONDITION_APPROVED,
  DecidedBy,
  type DecideContext,
  type Decision,
  Reason,
  type Transition,
  deactivateManager,
  decide,
  isUpToDate,
  RETRYABLE_REJECTIONS,
} from "./decide.ts";
export { type CompiledSelector, SELECTOR_VARIABLES, compileSelector, selectorInput } from "./selector.ts";
export { type CleanupCause, type CleanupTtls, dueForDeletion } from "./cleanup.ts";
export type { DecisionRecord } from "./reconciler.ts";
export { formatDuration, parseDuration } from "@devreg/runtime";
export { OperatorError, type OperatorErrorCode, isOperatorError } from "./errors.ts";
export { METRICS_PREFIX } from "./metrics.ts";
