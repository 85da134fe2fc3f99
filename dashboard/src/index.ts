/** @devreg/dashboard: the web console behind `devreg dashboard` (README.md). */
export { type DashboardHandle, type DashboardOptions, hostAllowed, originAllowed, startDashboard } from "./server.ts";
export { type CredentialSource, Sessions } from "./sessions.ts";
export { DIST_DIR, ensureBuilt, loadAssets } from "./assets.ts";
export { DashboardError, type DashboardErrorCode, isDashboardError } from "./errors.ts";
export type { MetricsTargets } from "./metrics-sampler.ts";
