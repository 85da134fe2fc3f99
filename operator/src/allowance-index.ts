import type { DeviceAllowance } from "@devreg/kube";

/** publicKey → DeviceAllowance name, fed by the allowance informer: a decision looks its key up, not every entry. */
export class AllowanceIndex {
  private readonly byKey = new Map<string, string>();

  set(a: DeviceAllowance): void {
    if (a.spec?.publicKey) this.byKey.set(a.spec.publicKey, a.metadata.name);
  }

  /** Forgets the key only if this allowance still names it (another may have taken it over). */
  delete(a: DeviceAllowance): void {
    const pk = a.spec?.publicKey;
    if (pk && this.byKey.get(pk) === a.metadata.name) this.byKey.delete(pk);
  }

  /** The allowance that pre-registers this base64 public key, if any. */
  get(publicKey: string): string | undefined {
    return this.byKey.get(publicKey);
  }
}
