/**
 * Caps open connections of one transport: a total and a per-remote-address count. A
 * connection is admitted before any byte of it is read and released when its socket
 * closes, so a refused connection costs one accept and one close. [issue 13]
 */
export interface ConnectionCaps {
  /** Open connections at most (all addresses). */
  max: number;
  /** Open connections at most from one remote address. */
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
  ) {
    if (!(caps.max >= 1 && caps.perAddress >= 1)) throw new RangeError("connection caps must be at least 1");
  }

  get size(): number {
    return this.open;
  }

  /** Distinct addresses with at least one open connection. */
  get addresses(): number {
    return this.byAddress.size;
  }

  /** True when `fraction` of the total cap or more is in use. */
  nearCap(fraction: number): boolean {
    return this.open >= Math.floor(this.caps.max * fraction);
  }

  /** Admits one connection from `remote`; `release` (safe to call twice) frees the slot. */
  tryAdmit(remote: string): Admission {
    if (this.open >= this.caps.max) return { ok: false, kind: "connection_limit" };
    const n = this.byAddress.get(remote) ?? 0;
    if (n >= this.caps.perAddress) return { ok: false, kind: "address_connection_limit" };
    this.byAddress.set(remote, n + 1);
    this.open++;
    this.onChange?.(this.open);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        const left = (this.byAddress.get(remote) ?? 1) - 1;
        if (left > 0) this.byAddress.set(remote, left);
        else this.byAddress.delete(remote);
        this.onChange?.(this.open);
      },
    };
  }
}
