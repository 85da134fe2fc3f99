/**
 * The operator's decision log: one pino JSON line per decision it wrote, with msg "decision"
 * (operator/src/reconciler.ts), on the replica's stdout. Every replica's log is kept, killed
 * ones included, so "no UUID minted twice" is judged from what each replica wrote.
 */
export interface DecisionLine {
  /** Epoch ms (pino's `time`). */
  time: number;
  /** The replica (its lease identity). */
  identity: string;
  registration: string;
  phase: string;
  reason?: string;
  deviceUUID?: string;
}

/** Parses the decision lines out of a replica's log text; other lines are ignored. Pure. */
export function parseDecisionLog(text: string): DecisionLine[] {
  const out: DecisionLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes('"msg":"decision"')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line cut by SIGKILL
    }
    if (rec.msg !== "decision" || typeof rec.registration !== "string" || typeof rec.time !== "number") continue;
    out.push({
      time: rec.time,
      identity: typeof rec.identity === "string" ? rec.identity : "?",
      registration: rec.registration,
      phase: String(rec.phase),
      reason: typeof rec.reason === "string" ? rec.reason : undefined,
      deviceUUID: typeof rec.deviceUUID === "string" ? rec.deviceUUID : undefined,
    });
  }
  return out;
}

/** The first decision written at or after `since` (epoch ms), by any replica. Pure. */
export function firstDecisionAfter(lines: readonly DecisionLine[], since: number): DecisionLine | undefined {
  let best: DecisionLine | undefined;
  for (const l of lines) if (l.time >= since && (!best || l.time < best.time)) best = l;
  return best;
}
