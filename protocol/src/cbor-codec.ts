import { Decoder, Encoder } from "cbor-x";
import { checkWellFormed, type WellFormedOptions } from "./cbor-wellformed.ts";
import { fail, ok, type Result } from "./errors.ts";

/**
 * cbor-x configured for the devreg profile. Maps are JS `Map`s so integer keys stay
 * integers, byte strings are plain bstr (no tag 64), and decoded byte strings are copies
 * so callers may keep them after the frame buffer is reused.
 */
const encoder = new Encoder({
  mapsAsObjects: false,
  useRecords: false,
  tagUint8Array: false,
  variableMapSize: true,
});
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, copyBuffers: true });

/**
 * Deterministic encoding of values built from Map (integer keys inserted in ascending
 * order), Array, Uint8Array, string and integers. [PROTO-7]
 */
export function encodeCbor(value: unknown): Uint8Array {
  // Copy out of cbor-x's shared scratch buffer and drop the Buffer subclass.
  return new Uint8Array(encoder.encode(value));
}

/**
 * cbor-x writes integers above 2^32-1 as float64; pass them as bigint to get a uint64 head.
 */
export function cborUint(n: number): number | bigint {
  return n > 0xffffffff ? BigInt(n) : n;
}

/** Profile check, then cbor-x. Never throws. */
export function decodeCbor(bytes: Uint8Array, opts: WellFormedOptions = {}): Result<unknown> {
  const err = checkWellFormed(bytes, opts);
  if (err) return { ok: false, error: err };
  try {
    return ok(decoder.decode(bytes) as unknown);
  } catch (e) {
    // Unreachable for input the walker accepted; kept so decode never throws.
    return fail("E_MALFORMED_CBOR", `cbor-x: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Writes a CBOR item head (major type + argument) in shortest form. */
export function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n <= 0xff) return Uint8Array.of(m | 24, n);
  if (n <= 0xffff) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (n <= 0xffffffff) return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  return Uint8Array.of(
    m | 27,
    hi >>> 24,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    lo >>> 24,
    (lo >>> 16) & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
  );
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** An integer decoded by cbor-x (number, or bigint for 8-byte heads) as a safe number. */
export function asSafeInt(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === "bigint") {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : undefined;
  }
  return undefined;
}
