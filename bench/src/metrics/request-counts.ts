import { fold, samplesOf } from "./prometheus.ts";

/**
 * apiserver_request_total from kube-apiserver's /metrics, folded to "VERB resource[/sub]"
 * so a phase's requests per enrollment can be compared across designs. Pure.
 */
export type RequestCounts = Map<string, number>;

export function parseRequestCounts(metricsText: string): RequestCounts {
  return fold(samplesOf(metricsText, "apiserver_request_total"), (l) =>
    l.resource ? `${l.verb ?? "?"} ${l.resource}${l.subresource ? `/${l.subresource}` : ""}` : undefined,
  );
}

/** Requests per operation between two readings, largest first; keys under `min` per op are dropped. */
export function requestsPerOp(
  before: RequestCounts,
  after: RequestCounts,
  ops: number,
  min = 0.05,
): Record<string, number> {
  const rows: Array<[string, number]> = [];
  if (ops <= 0) return {};
  for (const [key, end] of after) {
    const per = (end - (before.get(key) ?? 0)) / ops;
    if (per >= min) rows.push([key, Math.round(per * 100) / 100]);
  }
  rows.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return Object.fromEntries(rows);
}
