import { describe, expect, it } from "vitest";
import { parseRequestCounts, requestsPerOp } from "./request-counts.ts";

const sample = (posts: number, patches: number, events: number) =>
  [
    "# HELP apiserver_request_total [STABLE] Counter of apiserver requests",
    "# TYPE apiserver_request_total counter",
    `apiserver_request_total{code="201",component="apiserver",contentType="application/json",dry_run="",group="devices.example.com",resource="deviceregistrations",scope="resource",subresource="",verb="POST",version="v1alpha1"} ${posts}`,
    `apiserver_request_total{code="409",component="apiserver",contentType="application/json",dry_run="",group="devices.example.com",resource="deviceregistrations",scope="resource",subresource="",verb="POST",version="v1alpha1"} 1`,
    `apiserver_request_total{code="200",component="apiserver",contentType="application/json",dry_run="",group="devices.example.com",resource="deviceregistrations",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} ${patches}`,
    `apiserver_request_total{code="201",component="apiserver",contentType="application/json",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} ${events}`,
    `apiserver_request_total{code="200",component="apiserver",contentType="",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 7`,
    'apiserver_request_duration_seconds_bucket{le="0.1"} 3',
  ].join("\n");

describe("apiserver request counts", () => {
  it("folds label sets to VERB resource[/subresource] and skips non-resource paths", () => {
    const c = parseRequestCounts(sample(10, 10, 10));
    expect(Object.fromEntries(c)).toEqual({
      "POST deviceregistrations": 11,
      "PATCH deviceregistrations/status": 10,
      "POST events": 10,
    });
  });

  it("gives requests per operation between two readings", () => {
    const per = requestsPerOp(
      parseRequestCounts(sample(10, 10, 10)),
      parseRequestCounts(sample(110, 110, 160)),
      100,
    );
    expect(per).toEqual({
      "POST events": 1.5,
      "PATCH deviceregistrations/status": 1,
      "POST deviceregistrations": 1,
    });
    expect(requestsPerOp(new Map(), new Map(), 0)).toEqual({});
  });
});
