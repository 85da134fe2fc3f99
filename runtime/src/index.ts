export { type DevregEnv, readEnv } from "./env.ts";
export { RuntimeError, type RuntimeErrorCode, errorText, isRuntimeError } from "./errors.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export { type HealthServer, type HealthServerOptions, startHealthServer } from "./health-server.ts";
export { Lifecycle } from "./lifecycle.ts";
export { IPV6_LIMIT_PREFIX_LENGTH, limitKey } from "./limit-key.ts";
export { LogGate, type Logger, type LoggerOptions, REDACT_PATHS, createLogger, silentLogger } from "./log.ts";
export {
  CURVE_PERCENTILES,
  LatencyRecorder,
  type LatencySummary,
  type PercentilePoint,
  type Percentiles,
  percentile,
  summarize,
} from "./percentiles.ts";
export { type BucketSpec, type Clock, KeyedBuckets, TokenBucket } from "./token-bucket.ts";
export { type WaitForOptions, sleep, waitFor, within } from "./wait.ts";
