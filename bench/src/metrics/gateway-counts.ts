import { fold, samplesOf } from "./prometheus.ts";

/**
 * The gateway's own account of a phase, from its /metrics: answers by status (approved,
 * busy, pending, …) and refusals by kind (connect_rate, publish_rate, …). A busy answer or a
 * refusal during a bench phase means a limit, not the system, shaped the numbers. Pure.
 */
export function parseGatewayCounts(metricsText: string): Map<string, number> {
  const answers = fold(
    samplesOf(metricsText, "devreg_gateway_enrollments_total"),
    (l) => `answered ${l.outcome ?? "?"}`,
  );
  const refusals = fold(
    samplesOf(metricsText, "devreg_gateway_refusals_total"),
    (l) => `refused ${l.kind ?? "?"}`,
  );
  return new Map([...answers, ...refusals]);
}

/**
 * Total time requests spent inside the gateway (receipt to reply handed to the transport)
 * and how many: the difference of two readings gives the mean time inside the gateway, so a
 * device's latency can be split into "inside the gateway" and "MQTT and the device".
 */
export function parseGatewayTime(metricsText: string): { seconds: number; count: number } {
  const sum = samplesOf(metricsText, "devreg_gateway_enrollment_duration_seconds_sum").reduce(
    (a, s) => a + s.value,
    0,
  );
  const count = samplesOf(metricsText, "devreg_gateway_enrollment_duration_seconds_count").reduce(
    (a, s) => a + s.value,
    0,
  );
  return { seconds: sum, count };
}

/** The gateway's V8 heap in use, in KiB (prom-client's default metrics): where RSS goes. */
export function parseGatewayHeapKiB(metricsText: string): number | undefined {
  const [s] = samplesOf(metricsText, "devreg_gateway_nodejs_heap_size_used_bytes");
  return s ? Math.round(s.value / 1024) : undefined;
}
