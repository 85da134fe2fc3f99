import { type DeviceAllowance, Informer, type KubeRest, allowancesPath, dropManagedFields } from "@devreg/kube";

/**
 * The gateway's read-only view of the allowlist (DeviceAllowance objects): which public keys an
 * admin pre-registered. A listed key reaches the operator even with pairing closed; the operator
 * still decides. Fails closed: until the first list (or without the CRD) no key is listed.
 */
export class AllowlistView {
  readonly informer: Informer<DeviceAllowance>;
  private readonly counts = new Map<string, number>();

  constructor(rest: KubeRest, namespace: string) {
    this.informer = new Informer<DeviceAllowance>(rest, {
      path: allowancesPath(namespace),
      resyncMs: 10 * 60_000,
      transform: dropManagedFields,
    });
    this.informer.on("add", (a) => this.index(a, 1));
    this.informer.on("delete", (a) => this.index(a, -1));
    this.informer.on("update", (a, old) => {
      this.index(old, -1);
      this.index(a, 1);
    });
  }

  private index(a: DeviceAllowance, delta: number): void {
    const pk = a.spec?.publicKey;
    if (typeof pk !== "string") return;
    const n = (this.counts.get(pk) ?? 0) + delta;
    if (n > 0) this.counts.set(pk, n);
    else this.counts.delete(pk);
  }

  /** `publicKey`: base64 of the raw key, as spec.publicKey carries it. */
  allows(publicKey: string): boolean {
    return this.counts.has(publicKey);
  }
}
