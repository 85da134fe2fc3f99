import type { Condition } from "./types.ts";

/**
 * Sets a metav1.Condition in a list keyed by `type`. As in apimachinery's
 * meta.SetStatusCondition, lastTransitionTime changes only when `status` changes.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition[] {
  const out = (conditions ?? []).filter((c) => c.type !== next.type);
  const prev = conditions?.find((c) => c.type === next.type);
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : rfc3339(now);
  out.push({ ...next, lastTransitionTime });
  return out;
}

/** metav1.Time serializes at second precision. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
