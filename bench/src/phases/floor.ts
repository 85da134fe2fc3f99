import { randomBytes, randomUUID } from "node:crypto";
import { type KubeRest, Registrations } from "@devreg/kube";
import { type Arrival, type LoadOutcome, runLoad } from "../load/arrivals.ts";

export interface FloorOptions {
  rest: KubeRest;
  /** A namespace no operator watches, so only the bench writes these objects. */
  namespace: string;
  arrival: Arrival;
  count: number;
  concurrency: number;
  budgetMs?: number;
  /** Keeps names unique across phases of one run. */
  prefix: string;
}

/**
 * The floor: the least any design built on this apiserver can do per enrollment, a create
 * and a status patch from one keep-alive client. Latency = create start -> patch done.
 */
export async function runFloor(opts: FloorOptions): Promise<LoadOutcome & { verified: number }> {
  const regs = new Registrations(opts.rest, opts.namespace);
  const outcome = await runLoad({
    count: opts.count,
    arrival: opts.arrival,
    concurrency: opts.concurrency,
    budgetMs: opts.budgetMs,
    task: async (i) => {
      const name = `${opts.prefix}-${i}`;
      const t0 = performance.now();
      await regs.create({
        metadata: { name, namespace: opts.namespace },
        spec: { publicKey: randomBytes(32).toString("base64") },
      });
      await regs.patchStatus(name, { phase: "Approved", deviceUUID: randomUUID(), message: "floor" });
      return performance.now() - t0;
    },
  });
  return { ...outcome, verified: 0 };
}
