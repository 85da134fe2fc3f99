import type { KubeRest } from "@devreg/kube";
import { startPollingGateway } from "../baseline/polling-gateway.ts";
import { PollingDeviceClient } from "../baseline/polling-client.ts";
import { BenchError } from "../errors.ts";
import { type LoadOutcome, type LoadShape, loadShape, runLoad } from "../load/arrivals.ts";

export interface PollingOptions extends LoadShape {
  rest: KubeRest;
  /** The namespace the real operator watches: it decides these registrations too. */
  namespace: string;
  pollIntervalMs: number;
}

/** The original design end to end: HTTP POST /enroll -> create -> poll GET -> answer. */
export async function runPolling(
  opts: PollingOptions,
): Promise<LoadOutcome & { verified: number; polls: number }> {
  const gateway = await startPollingGateway({
    rest: opts.rest,
    namespace: opts.namespace,
    pollIntervalMs: opts.pollIntervalMs,
  });
  // Each request holds its connection for about one poll interval, so allow one socket per
  // request the arrival rate can have in flight.
  const client = new PollingDeviceClient(gateway.port, opts.concurrency);
  let verified = 0;
  try {
    const outcome = await runLoad({
      ...loadShape(opts),
      task: async () => {
        const { latencyMs, answer } = await client.enroll();
        if (answer.status === 403) throw new BenchError("E_REJECTED", "rejected: is pairing on?");
        if (answer.status !== 200 || !answer.deviceUUID) {
          throw new BenchError("E_BAD_REPLY", `polling gateway answered ${answer.status}`);
        }
        verified++;
        return latencyMs;
      },
    });
    return { ...outcome, verified, polls: gateway.polls };
  } finally {
    client.close();
    await gateway.stop();
  }
}
