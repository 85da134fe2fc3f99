import { describe, expect, it } from "vitest";
import { parseGatewayCounts, parseGatewayHeapKiB, parseGatewayTime } from "./gateway-counts.ts";
import { fold, increase, samplesOf } from "./prometheus.ts";

const text = [
  "# HELP devreg_gateway_enrollments_total Enrollments answered",
  "# TYPE devreg_gateway_enrollments_total counter",
  'devreg_gateway_enrollments_total{outcome="approved",transport="mqtt"} 40',
  'devreg_gateway_enrollments_total{outcome="busy",transport="mqtt"} 2',
  'devreg_gateway_enrollments_total{outcome="approved",transport="http"} 1',
  'devreg_gateway_refusals_total{kind="connect_rate"} 3',
  "devreg_gateway_refusals_total_created 1700000000",
  "devreg_gateway_connected_clients 12",
].join("\n");

describe("prometheus text", () => {
  it("reads samples of one metric with and without labels, not of longer names", () => {
    expect(samplesOf(text, "devreg_gateway_refusals_total")).toEqual([
      { labels: { kind: "connect_rate" }, value: 3 },
    ]);
    expect(samplesOf(text, "devreg_gateway_connected_clients")).toEqual([{ labels: {}, value: 12 }]);
  });

  it("folds and diffs counters", () => {
    const before = fold(samplesOf(text, "devreg_gateway_enrollments_total"), (l) => l.outcome);
    expect(Object.fromEntries(before)).toEqual({ approved: 41, busy: 2 });
    expect(
      increase(
        before,
        new Map([
          ["approved", 50],
          ["busy", 2],
          ["pending", 1],
        ]),
      ),
    ).toEqual({ approved: 9, pending: 1 });
  });

  it("gives the gateway's answers by status and refusals by kind", () => {
    expect(Object.fromEntries(parseGatewayCounts(text))).toEqual({
      "answered approved": 41,
      "answered busy": 2,
      "refused connect_rate": 3,
    });
  });

  it("sums the time requests spent inside the gateway, over every outcome", () => {
    const h = [
      'devreg_gateway_enrollment_duration_seconds_bucket{le="0.01",outcome="approved",transport="mqtt"} 3',
      'devreg_gateway_enrollment_duration_seconds_sum{outcome="approved",transport="mqtt"} 1.5',
      'devreg_gateway_enrollment_duration_seconds_count{outcome="approved",transport="mqtt"} 30',
      'devreg_gateway_enrollment_duration_seconds_sum{outcome="busy",transport="mqtt"} 0.5',
      'devreg_gateway_enrollment_duration_seconds_count{outcome="busy",transport="mqtt"} 10',
    ].join("\n");
    expect(parseGatewayTime(h)).toEqual({ seconds: 2, count: 40 });
  });

  it("reads the gateway's heap in use", () => {
    expect(parseGatewayHeapKiB('devreg_gateway_nodejs_heap_size_used_bytes{gateway="vm"} 2048000')).toBe(
      2000,
    );
    expect(parseGatewayHeapKiB(text)).toBeUndefined();
  });
});
