import type { DeviceRegistration } from "@devreg/kube";
import { registrationNameForDeviceId } from "@devreg/protocol";
import type { DeviceIdOf } from "./spec-validation.ts";

/**
 * One public key never gets a second UUID. The gateway names registrations by protocol's rule
 * (`registrationName`, [PROTO-3]), so normally one key is one object; but anyone with RBAC can
 * create a second object with the same key under another name. Among all registrations holding a key, exactly one is its owner, chosen
 * deterministically so concurrent workers (or replicas) agree without coordination:
 * already holds a UUID > has the gateway's canonical name > oldest > name order.
 * Registrations that were rejected without a UUID, or are being deleted, never own a key.
 */
export function keyOwner(
  candidates: readonly DeviceRegistration[],
  deviceIdOf: DeviceIdOf,
): string | undefined {
  const eligible = candidates.filter(
    (r) => !r.metadata.deletionTimestamp && !(r.status?.phase === "Rejected" && !r.status.deviceUUID),
  );
  if (eligible.length === 0) return undefined;
  let canonical: string | undefined;
  const pk = eligible[0]?.spec.publicKey;
  try {
    if (pk) canonical = registrationNameForDeviceId(deviceIdOf(new Uint8Array(Buffer.from(pk, "base64"))));
  } catch {
    // an unusable key is rejected by spec validation; ownership then does not matter
  }
  const rank = (r: DeviceRegistration): [number, number, string, string] => [
    r.status?.deviceUUID ? 0 : 1,
    r.metadata.name === canonical ? 0 : 1,
    r.metadata.creationTimestamp ?? "",
    r.metadata.name,
  ];
  const sorted = [...eligible].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) {
      const x = ra[i] as string | number;
      const y = rb[i] as string | number;
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  });
  return sorted[0]?.metadata.name;
}

/** Which registration keys (namespace/name) hold each public key; fed by the informer. */
export class KeyIndex {
  private readonly byPk = new Map<string, Set<string>>();
  private readonly pkOf = new Map<string, string>();

  set(key: string, reg: DeviceRegistration): void {
    const pk = reg.spec?.publicKey;
    const prev = this.pkOf.get(key);
    if (prev === pk) return;
    if (prev !== undefined) this.delete(key);
    if (typeof pk !== "string") return;
    this.pkOf.set(key, pk);
    let set = this.byPk.get(pk);
    if (!set) {
      set = new Set();
      this.byPk.set(pk, set);
    }
    set.add(key);
  }

  delete(key: string): void {
    const pk = this.pkOf.get(key);
    if (pk === undefined) return;
    this.pkOf.delete(key);
    const set = this.byPk.get(pk);
    set?.delete(key);
    if (set && set.size === 0) this.byPk.delete(pk);
  }

  /** Every registration key holding `publicKey`. */
  keysFor(publicKey: string | undefined): string[] {
    return publicKey === undefined ? [] : [...(this.byPk.get(publicKey) ?? [])];
  }

  /** Other keys holding the same public key (empty in the normal, one-object-per-key case). */
  peers(key: string, publicKey: string): string[] {
    const set = this.byPk.get(publicKey);
    if (!set) return [];
    return [...set].filter((k) => k !== key);
  }
}
