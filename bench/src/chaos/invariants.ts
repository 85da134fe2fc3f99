import type { DeviceRegistration } from "@devreg/kube";
import type { DecisionLine } from "./decision-log.ts";

/** What a device of the storm ended with (from the simulator). */
export interface DeviceResult {
  deviceId: string;
  /** Base64 Ed25519 public key, as the registration's spec holds it. */
  publicKey: string;
  phase: string;
  deviceUUID?: string;
}

export interface Violation {
  invariant:
    | "one-registration-per-device"
    | "device-uuid-matches-apiserver"
    | "uuid-held-once"
    | "uuid-minted-once"
    | "settled"
    | "device-enrolled";
  detail: string;
}

/**
 * The invariants after a storm with faults (issue 17). Pure: every input is a snapshot.
 *  - every device ends with exactly one registration (by public key);
 *  - every approved device stored the UUID the apiserver holds;
 *  - no UUID is held by two registrations;
 *  - no UUID was minted twice, judged from every replica's decision log: one UUID per
 *    registration, and one registration per UUID;
 *  - nothing is Pending or without status once the system settled;
 *  - every device of the storm ended enrolled (pairing is open throughout).
 */
export function checkInvariants(input: {
  devices: readonly DeviceResult[];
  registrations: readonly DeviceRegistration[];
  decisions: readonly DecisionLine[];
}): Violation[] {
  const out: Violation[] = [];
  const add = (invariant: Violation["invariant"], detail: string) => {
    if (out.filter((v) => v.invariant === invariant).length < 5) out.push({ invariant, detail });
  };
  const byKey = new Map<string, DeviceRegistration[]>();
  for (const r of input.registrations) {
    const k = r.spec?.publicKey ?? "";
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  for (const d of input.devices) {
    const regs = byKey.get(d.publicKey) ?? [];
    if (regs.length !== 1) add("one-registration-per-device", `${d.deviceId}: ${regs.length} registrations`);
    if (d.phase !== "enrolled") add("device-enrolled", `${d.deviceId}: ended ${d.phase}`);
    const held = regs[0]?.status?.deviceUUID;
    if (d.phase === "enrolled" && d.deviceUUID !== held) {
      add("device-uuid-matches-apiserver", `${d.deviceId}: device stored ${d.deviceUUID}, apiserver holds ${held}`);
    }
  }
  const holders = new Map<string, string>();
  for (const r of input.registrations) {
    const phase = r.status?.phase;
    if (!r.status || !phase || phase === "Pending") add("settled", `${r.metadata.name}: ${phase ?? "no status"}`);
    const uuid = r.status?.deviceUUID;
    if (!uuid) continue;
    const other = holders.get(uuid);
    if (other) add("uuid-held-once", `${uuid}: held by ${other} and ${r.metadata.name}`);
    holders.set(uuid, r.metadata.name);
  }
  const uuidsOf = new Map<string, Set<string>>();
  const regsOf = new Map<string, Set<string>>();
  for (const l of input.decisions) {
    if (!l.deviceUUID || l.phase !== "Approved") continue;
    uuidsOf.set(l.registration, (uuidsOf.get(l.registration) ?? new Set()).add(l.deviceUUID));
    regsOf.set(l.deviceUUID, (regsOf.get(l.deviceUUID) ?? new Set()).add(l.registration));
  }
  for (const [reg, uuids] of uuidsOf) {
    if (uuids.size > 1) add("uuid-minted-once", `${reg}: approved with ${[...uuids].join(", ")}`);
  }
  for (const [uuid, regs] of regsOf) {
    if (regs.size > 1) add("uuid-minted-once", `${uuid}: given to ${[...regs].join(", ")}`);
  }
  return out;
}

/** name -> "phase uuid": what "re-running the same identities changes nothing" compares. Pure. */
export function registrationDigest(regs: readonly DeviceRegistration[]): Map<string, string> {
  return new Map(regs.map((r) => [r.metadata.name, `${r.status?.phase ?? "-"} ${r.status?.deviceUUID ?? "-"}`]));
}

/** Differences between two digests (at most `max`). Pure. */
export function digestChanges(before: Map<string, string>, after: Map<string, string>, max = 5): string[] {
  const out: string[] = [];
  for (const [name, v] of after) if (before.get(name) !== v) out.push(`${name}: ${before.get(name) ?? "absent"} -> ${v}`);
  for (const name of before.keys()) if (!after.has(name)) out.push(`${name}: deleted`);
  return out.slice(0, max);
}
