import { IPV6_LIMIT_PREFIX_LENGTH, limitKey } from "@devreg/runtime";

/**
 * Caps open connections of one transport: a total and a per-remote-address count. A
 * connection is admitted before any byte of it is read and released when its socket
 * closes, so a refused connection costs one accept and one close. [issue 13]
 * Addresses are counted by their limit key (runtime limitKey): an IPv6 prefix, and IPv4
 * alike on an IPv4 and a dual-stack listener.
 */
export interface ConnectionCaps {
  /** Open connections at most (all addresses). */
  max: number;
  /** Open connections at most from one remote address (IPv6: from one prefix). */
  perAddress: number;
}

type ConnectionRefusal = "connection_limit" | "address_connection_limit";

export type Admission = { ok: true; release: () => void } | { ok: false; kind: ConnectionRefusal };

export class ConnectionLimiter {
  private open = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(
    readonly caps: ConnectionCaps,
    private readonly onChange?: (open: number) => void,
    private readonly ipv6PrefixLength = IPV6_LIMIT_PREFIX_LENGTH,
  ) {
    if (!(caps.max >= 1 && caps.perAddress >= 1)) throw new RangeError("connection caps must be at least 1");
  }

  get size(): number {
    return this.open;
  }

  /** Distinct address keys (an IPv6 prefix counts once) with at least one open connection. */
  get addresses(): number {
    return this.byAddress.size;
  }

  /** True when `fraction` of the total cap or more is in use. */
  nearCap(fraction: number): boolean {
    return this.open >= Math.floor(this.caps.max * fraction);
  }

  /**
   * Admits one connection from `remote` (the raw address); `release` (safe to call twice)
   * frees the slot of the key it was admitted under.
   */
  tryAdmit(remote: string): Admission {
    if (this.open >= this.caps.max) return { ok: false, kind: "connection_limit" };
    const key = limitKey(remote, this.ipv6PrefixLength);
    const n = this.byAddress.get(key) ?? 0;
    if (n >= this.caps.perAddress) return { ok: false, kind: "address_connection_limit" };
    this.byAddress.set(key, n + 1);
    this.open++;
    this.onChange?.(this.open);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        const left = (this.byAddress.get(key) ?? 1) - 1;
        if (left > 0) this.byAddress.set(key, left);
        else this.byAddress.delete(key);
        this.onChange?.(this.open);
      },
    };
  }
}
