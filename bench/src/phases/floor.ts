import { type KubeRest, Registrations } from "@devreg/kube";
import { type LoadOutcome, type LoadShape, loadShape, runLoad } from "../load/arrivals.ts";
import { floorApproval, floorRegistration } from "./floor-objects.ts";

export interface FloorOptions extends LoadShape {
  rest: KubeRest;
  /** A namespace no operator watches, so only the bench writes these objects. */
  namespace: string;
}

/**
 * The floor: the least any design built on this apiserver can do per enrollment, a create
 * and a status patch from one keep-alive client, written exactly as the gateway and the
 * operator write them (same objects, same field manager, the create's resourceVersion as
 * the patch's precondition). Latency = create start -> patch done.
 */
export async function runFloor(opts: FloorOptions): Promise<LoadOutcome & { verified: number }> {
  const regs = new Registrations(opts.rest, opts.namespace);
  const outcome = await runLoad({
    ...loadShape(opts),
    task: async () => {
      const obj = floorRegistration(opts.namespace);
      const t0 = performance.now();
      const created = await regs.create(obj);
      await regs.patchStatus(obj.metadata.name, floorApproval(), {
        resourceVersion: created.metadata.resourceVersion,
        fieldManager: "devreg-operator",
      });
      return performance.now() - t0;
    },
  });
  return { ...outcome, verified: 0 };
}
