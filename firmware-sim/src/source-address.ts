/**
 * A realistic fleet on one machine: each simulated device connects from its own loopback
 * address (Linux routes all of 127.0.0.0/8 to lo, no set-up needed), so the gateway's
 * per-address limits apply per device host as they would in the field, not to the whole fleet.
 */

/** 127.0.0.1 is the gateway's usual bind and the admin's own address; devices start at 127.1.0.1. */
const FIRST = (127 << 24) | (1 << 16);
/** Distinct addresses handed out before wrapping: 127.1.0.0/16 … 127.254.255.255 minus .0/.255 hosts. */
export const MAX_SOURCE_ADDRESSES = 254 * 256 * 254;

/** Whether `url`'s host is on loopback: only then can the fleet bind 127.0.0.0/8 sources. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The source address of device `index` when `count` addresses are shared round-robin
 * (count ≥ 1). Host parts .0 and .255 are skipped so no address looks like a network or
 * broadcast address to a reader.
 */
export function sourceAddress(index: number, count: number): string {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SOURCE_ADDRESSES) {
    throw new RangeError(`source address count must be 1..${MAX_SOURCE_ADDRESSES}, got ${count}`);
  }
  const slot = index % count;
  const last = (slot % 254) + 1;
  const rest = Math.floor(slot / 254);
  const third = rest % 256;
  const second = 1 + Math.floor(rest / 256);
  const n = FIRST + ((second - 1) << 16) + (third << 8) + last;
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
