import { parseArgs } from "node:util";
import type { DevregEnv } from "@devreg/runtime";
import { BenchError } from "./errors.ts";
import { type BenchOptions, PHASE_GROUPS, parsePhaseGroups, validateSweep } from "./options.ts";

export const USAGE = `usage: npm run bench -- [options]

  --kubeconfig PATH     bench any cluster (default: $KUBECONFIG, else a private local control plane)
  --quick               smoke-sized run (sweep capped at 1,000 devices)
  --rates 20,100        fixed arrival rates per second; the first is the "light" rate
  --seconds N           length of each fixed-rate phase (default 10)
  --burst N             devices in the burst phase (default 1000)
  --concurrency N       in-flight cap for floor, devreg and polling (default 32)
  --poll-interval MS    the original design's status poll interval (default 1000)
  --sweep 100,1000,...  scale sweep points (default 100,1000,10000,50000,100000; "" for none);
                        the bench raises its open-file limit (prlimit, needs root beyond the hard limit)
  --sweep-budget S      the sweep starts no new device after S seconds (default 900)
  --reconnect-max N     devices the reconnect phase brings back at most (default 10000)
  --phases LIST         only these of ${PHASE_GROUPS.join(",")} (default all);
                        isolated = floor-burst-isolated and devreg-burst-isolated (taskset)
  --results DIR         where to write results (default bench/results)
  --profile             --cpu-prof the gateway and operator; heap-snapshot the gateway at the largest sweep point
  --keep-logs           keep the component logs (printed at the end)
  --json                print the result JSON on stdout
`;

function list(v: string | undefined, flag: string): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(",").map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x <= 0)) {
    throw new BenchError("E_USAGE", `${flag} wants positive numbers separated by commas, got ${v}`);
  }
  return xs;
}

function positive(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new BenchError("E_USAGE", `${flag} wants a positive integer, got ${v}`);
  return n;
}

function sweepPoints(xs: number[] | undefined): number[] | undefined {
  return xs === undefined ? undefined : validateSweep(xs);
}

function seconds(v: string | undefined, flag: string): number | undefined {
  const n = positive(v, flag);
  return n === undefined ? undefined : n * 1000;
}

/**
 * argv (without node and the script) and the environment (readEnv, for $KUBECONFIG) -> options.
 * Throws E_USAGE on anything it cannot use.
 */
export function parseCliArgs(
  argv: string[],
  env: DevregEnv = {},
): { options: BenchOptions; json: boolean; help: boolean } {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new BenchError("E_USAGE", (e as Error).message);
  }
  return {
    help: values.help ?? false,
    json: values.json ?? false,
    options: {
      kubeconfig: values.kubeconfig,
      envKubeconfig: env.kubeconfig,
      quick: values.quick,
      rates: list(values.rates, "--rates"),
      fixedSeconds: positive(values.seconds, "--seconds"),
      burstCount: positive(values.burst, "--burst"),
      concurrency: positive(values.concurrency, "--concurrency"),
      pollingIntervalMs: positive(values["poll-interval"], "--poll-interval"),
      sweep: values.sweep === "" ? [] : sweepPoints(list(values.sweep, "--sweep")),
      sweepBudgetMs: seconds(values["sweep-budget"], "--sweep-budget"),
      reconnectMax: positive(values["reconnect-max"], "--reconnect-max"),
      phases: values.phases === undefined ? undefined : parsePhaseGroups(values.phases),
      resultsDir: values.results,
      profile: values.profile,
      keepLogs: values["keep-logs"],
    },
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      kubeconfig: { type: "string" },
      quick: { type: "boolean" },
      rates: { type: "string" },
      seconds: { type: "string" },
      burst: { type: "string" },
      concurrency: { type: "string" },
      "poll-interval": { type: "string" },
      sweep: { type: "string" },
      "sweep-budget": { type: "string" },
      "reconnect-max": { type: "string" },
      phases: { type: "string" },
      results: { type: "string" },
      profile: { type: "boolean" },
      "keep-logs": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
