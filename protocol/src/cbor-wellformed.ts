import { MAX_NESTING_DEPTH } from "./constants.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Pre-validation walker over raw CBOR bytes, run before cbor-x sees them.
 *
 * cbor-x is lenient where this protocol must be strict: it keeps the last of two
 * duplicate keys, ignores trailing bytes, accepts indefinite lengths, and turns tags
 * into arbitrary objects. This walker enforces the devreg CBOR profile (SPEC §3):
 * [PROTO-8] well-formed, definite lengths only, valid UTF-8 in text strings;
 * [PROTO-9] arrays/maps nested at most `maxDepth`;
 * [PROTO-10] no duplicate map keys (compared by value, so 0x01 and 0x1801 collide);
 * [PROTO-11] exactly one data item, no trailing bytes;
 * [PROTO-12] no tags except `rootTag` on the outermost item, no floats or simple values.
 * It never throws and allocates only for map key sets.
 */
export interface WellFormedOptions {
  maxDepth?: number;
  /** The one tag allowed, and only on the outermost item (18 for COSE_Sign1). */
  rootTag?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

interface Cursor {
  readonly b: Uint8Array;
  pos: number;
  readonly maxDepth: number;
  readonly rootTag: number | undefined;
}

/** Returns undefined when `bytes` is exactly one data item that follows the profile. */
export function checkWellFormed(bytes: Uint8Array, opts: WellFormedOptions = {}): ProtocolError | undefined {
  if (bytes.length === 0) return malformed("empty input", 0);
  const c: Cursor = { b: bytes, pos: 0, maxDepth: opts.maxDepth ?? MAX_NESTING_DEPTH, rootTag: opts.rootTag };
  const err = walkItem(c, 0, true);
  if (err) return err;
  if (c.pos !== bytes.length) {
    return new ProtocolError("E_TRAILING_BYTES", `${bytes.length - c.pos} byte(s) after the data item`);
  }
  return undefined;
}

function malformed(what: string, pos: number): ProtocolError {
  return new ProtocolError("E_MALFORMED_CBOR", `${what} at offset ${pos}`);
}

/** Reads an item head; returns the argument (number, or bigint above 2^53-1) or an error. */
function readArgument(c: Cursor, ai: number): number | bigint | ProtocolError {
  const { b } = c;
  if (ai < 24) return ai;
  const start = c.pos;
  const need = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : -1;
  if (need < 0) return malformed(`reserved additional information ${ai}`, start - 1);
  if (start + need > b.length) return malformed("truncated item head", start - 1);
  c.pos += need;
  if (need === 1) return b[start]!;
  if (need === 2) return (b[start]! << 8) | b[start + 1]!;
  const hi32 = ((b[start]! << 24) | (b[start + 1]! << 16) | (b[start + 2]! << 8) | b[start + 3]!) >>> 0;
  if (need === 4) return hi32;
  const lo32 = ((b[start + 4]! << 24) | (b[start + 5]! << 16) | (b[start + 6]! << 8) | b[start + 7]!) >>> 0;
  if (hi32 < 0x200000) return hi32 * 0x100000000 + lo32;
  return (BigInt(hi32) << 32n) | BigInt(lo32);
}

function isAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

function walkItem(c: Cursor, depth: number, isRoot: boolean): ProtocolError | undefined {
  const { b } = c;
  if (c.pos >= b.length) return malformed("unexpected end of input", c.pos);
  const headPos = c.pos;
  const ib = b[c.pos++]!;
  const major = ib >> 5;
  const ai = ib & 0x1f;

  if (ai === 31) {
    if (major >= 2 && major <= 5) {
      return new ProtocolError("E_INDEFINITE_LENGTH", `indefinite-length item at offset ${headPos}`);
    }
    return malformed(
      major === 7 ? "break outside indefinite-length item" : "invalid indefinite length",
      headPos,
    );
  }
  const arg = readArgument(c, ai);
  if (arg instanceof ProtocolError) return arg;

  switch (major) {
    case 0:
    case 1:
      return undefined;
    case 2:
    case 3: {
      const remaining = b.length - c.pos;
      if (typeof arg === "bigint" || arg > remaining) return malformed("string longer than input", headPos);
      const start = c.pos;
      c.pos += arg;
      if (major === 3 && !isAscii(b, start, c.pos)) {
        try {
          utf8.decode(b.subarray(start, c.pos));
        } catch {
          return malformed("invalid UTF-8 in text string", headPos);
        }
      }
      return undefined;
    }
    case 4:
    case 5: {
      if (depth + 1 > c.maxDepth) {
        return new ProtocolError("E_TOO_DEEP", `nesting deeper than ${c.maxDepth} at offset ${headPos}`);
      }
      const items = major === 4 ? arg : typeof arg === "bigint" ? arg : arg * 2;
      // Every item takes at least one byte, so this bounds the loop by the input size.
      if (typeof items === "bigint" || items > b.length - c.pos) {
        return malformed(`${major === 4 ? "array" : "map"} longer than input`, headPos);
      }
      if (major === 4) {
        for (let i = 0; i < items; i++) {
          const err = walkItem(c, depth + 1, false);
          if (err) return err;
        }
        return undefined;
      }
      const seen = new Set<string>();
      for (let i = 0; i < items; i += 2) {
        const keyPos = c.pos;
        const key = keyIdentity(c, depth + 1);
        if (key instanceof ProtocolError) return key;
        if (seen.has(key)) {
          return new ProtocolError("E_DUPLICATE_KEY", `duplicate map key at offset ${keyPos}`);
        }
        seen.add(key);
        const err = walkItem(c, depth + 1, false);
        if (err) return err;
      }
      return undefined;
    }
    case 6: {
      if (!isRoot || arg !== c.rootTag) {
        return new ProtocolError("E_WRONG_TYPE", `tag ${String(arg)} not allowed at offset ${headPos}`);
      }
      return walkItem(c, depth, false);
    }
    default: {
      // major 7: check well-formedness first so a truncated float still reads as malformed.
      if (ai === 24 && (arg as number) < 32) return malformed("non-preferred simple value", headPos);
      return new ProtocolError("E_WRONG_TYPE", `floats and simple values are not used (offset ${headPos})`);
    }
  }
}

/**
 * Walks a map key and returns a string equal for equal CBOR values, so keys that only
 * differ in head width still count as duplicates.
 */
function keyIdentity(c: Cursor, depth: number): string | ProtocolError {
  const start = c.pos;
  const ib = c.b[start];
  const err = walkItem(c, depth, false);
  if (err) return err;
  const major = ib! >> 5;
  if (major <= 1) {
    const probe: Cursor = { b: c.b, pos: start + 1, maxDepth: c.maxDepth, rootTag: undefined };
    return `${major}:${String(readArgument(probe, ib! & 0x1f))}`;
  }
  if (major === 2 || major === 3) {
    const probe: Cursor = { b: c.b, pos: start + 1, maxDepth: c.maxDepth, rootTag: undefined };
    readArgument(probe, ib! & 0x1f);
    return `${major}:${latin1(c.b, probe.pos, c.pos)}`;
  }
  return `raw:${latin1(c.b, start, c.pos)}`;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * True when `bytes` (already well-formed) uses RFC 8949 §4.2.1 core deterministic
 * encoding: shortest heads and map keys in bytewise order of their encodings. [PROTO-7]
 * Encoders must produce this; receivers do not require it (signatures cover the bytes as sent).
 */
export function isDeterministic(bytes: Uint8Array): boolean {
  const c: Cursor = { b: bytes, pos: 0, maxDepth: Number.MAX_SAFE_INTEGER, rootTag: undefined };
  return deterministicItem(c) && c.pos === bytes.length;
}

function deterministicItem(c: Cursor): boolean {
  const ib = c.b[c.pos++];
  if (ib === undefined) return false;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  if (ai === 31) return false;
  const arg = readArgument(c, ai);
  if (arg instanceof ProtocolError) return false;
  if (major !== 7 && !isShortest(ai, arg)) return false;
  switch (major) {
    case 2:
    case 3:
      c.pos += Number(arg);
      return c.pos <= c.b.length;
    case 4:
      for (let i = 0; i < Number(arg); i++) if (!deterministicItem(c)) return false;
      return true;
    case 5: {
      let prev: Uint8Array | undefined;
      for (let i = 0; i < Number(arg); i++) {
        const start = c.pos;
        if (!deterministicItem(c)) return false;
        const key = c.b.subarray(start, c.pos);
        if (prev && compareBytes(prev, key) >= 0) return false;
        prev = key;
        if (!deterministicItem(c)) return false;
      }
      return true;
    }
    case 6:
      return deterministicItem(c);
    default:
      return true;
  }
}

function isShortest(ai: number, arg: number | bigint): boolean {
  if (ai < 24) return true;
  if (ai === 24) return arg >= 24;
  if (ai === 25) return arg > 0xff;
  if (ai === 26) return arg > 0xffff;
  return arg > 0xffffffff;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
