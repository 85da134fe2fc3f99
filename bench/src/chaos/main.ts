/**
 * `npm run chaos`: the fault suite (issue 17). CI subset by default; `--full` for the
 * 2,000-device set. Prints each wave's recovery figures and the invariants; exit 1 on a violation.
 */
import { parseArgs } from "node:util";
import { FAULTS, type Fault, runChaos } from "./suite.ts";
import { renderChaosReport, chaosFailures } from "./report.ts";

const { values } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    devices: { type: "string" },
    rate: { type: "string" },
    pause: { type: "string" },
    fault: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
  },
});

function num(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!(n > 0)) {
    process.stderr.write(`devreg chaos: --${name} must be a positive number, not ${v}\n`);
    process.exit(2);
  }
  return n;
}

const faults = (values.fault ?? [...FAULTS]) as Fault[];
for (const f of faults) {
  if (!FAULTS.includes(f)) {
    process.stderr.write(`devreg chaos: unknown --fault ${f} (one of ${FAULTS.join(", ")})\n`);
    process.exit(2);
  }
}
const report = await runChaos({
  devicesPerWave: num(values.devices, "devices", values.full ? 2000 : 150),
  rate: num(values.rate, "rate", values.full ? 200 : 50),
  pauseMs: num(values.pause, "pause", values.full ? 15 : 5) * 1000,
  faults,
  log: (l) => process.stderr.write(`[chaos] ${l}\n`),
});
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else process.stdout.write(renderChaosReport(report));
process.exitCode = chaosFailures(report).length > 0 ? 1 : 0;
