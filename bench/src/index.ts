/** @devreg/bench: floor vs devreg vs the original polling design, plus the scale sweep. See README.md. */
export { type BenchRun, DEFAULT_RESULTS_DIR, runBench } from "./run.ts";
export type { BenchOptions } from "./options.ts";
export type { BenchResult, PhaseResult, SweepPoint, TargetCheck } from "./result.ts";
export { BenchError, type BenchErrorCode } from "./errors.ts";
export { renderMarkdown } from "./report/markdown.ts";
export { renderSvg } from "./report/svg.ts";
export { checkTargets, TARGETS } from "./report/targets.ts";
export { startPollingGateway } from "./baseline/polling-gateway.ts";
