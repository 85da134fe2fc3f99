import { asSafeInt } from "./cbor-codec.ts";
import { MESSAGE_MAX_BYTES, PROTOCOL_VERSION } from "./constants.ts";
import { fail, ok, type Result } from "./errors.ts";

/**
 * Field readers shared by decoders (values from cbor-x) and encoders (values from callers),
 * so both sides enforce one rule set. Each returns the SPEC error code for its field.
 */

/** Payload map with integer keys; a non-integer key is an unknown field. [PROTO-19] */
export function toIntKeyedMap(value: unknown, allowed: ReadonlySet<number>): Result<Map<number, unknown>> {
  if (!(value instanceof Map)) return fail("E_WRONG_TYPE", "payload must be a map", "payload");
  const out = new Map<number, unknown>();
  for (const [k, v] of value) {
    const key = asSafeInt(k);
    if (key === undefined || !allowed.has(key)) {
      return fail("E_EXTRA_FIELD", `unknown payload key ${String(k)}`, String(k));
    }
    out.set(key, v);
  }
  return ok(out);
}

/**
 * [PROTO-18] Version is checked before anything else in the payload so a future version
 * with different fields reports E_UNKNOWN_VERSION, then the message type.
 */
export function checkVersionAndType(payload: unknown, messageType: number): Result<void> {
  if (!(payload instanceof Map)) return fail("E_WRONG_TYPE", "payload must be a map", "payload");
  const version = findIntKey(payload, 1);
  if (version === MISSING) return fail("E_MISSING_FIELD", "version is missing", "version");
  if (asSafeInt(version) !== PROTOCOL_VERSION) {
    return fail("E_UNKNOWN_VERSION", `unsupported version ${String(version)}`, "version");
  }
  const type = findIntKey(payload, 2);
  if (type === MISSING) return fail("E_MISSING_FIELD", "messageType is missing", "messageType");
  if (asSafeInt(type) !== messageType) {
    return fail(
      "E_WRONG_MESSAGE_TYPE",
      `expected message type ${messageType}, got ${String(type)}`,
      "messageType",
    );
  }
  return { ok: true, value: undefined };
}

const MISSING = Symbol("missing");

function findIntKey(map: Map<unknown, unknown>, key: number): unknown {
  if (map.has(key)) return map.get(key);
  for (const [k, v] of map) if (asSafeInt(k) === key) return v;
  return MISSING;
}

export function readUint(v: unknown, field: string, max: number): Result<number> {
  // cbor-x yields bigint for 8-byte heads; callers pass numbers. Floats never reach here from the wire.
  const n = typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v)) ? v : undefined;
  if (n === undefined || n < 0) return fail("E_WRONG_TYPE", `${field} must be an unsigned integer`, field);
  if (n > max) return fail("E_INVALID_VALUE", `${field} is larger than ${max}`, field);
  return ok(Number(n));
}

export function readBytes(v: unknown, field: string): Result<Uint8Array> {
  if (!(v instanceof Uint8Array)) return fail("E_WRONG_TYPE", `${field} must be a byte string`, field);
  return ok(v);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Printable ASCII (0x20-0x7E), `min`..`max` characters. */
export function readAscii(
  v: unknown,
  field: string,
  min: number,
  max: number,
  pattern?: RegExp,
): Result<string> {
  if (typeof v !== "string") return fail("E_WRONG_TYPE", `${field} must be a text string`, field);
  if (v.length < min || v.length > max) {
    return fail("E_INVALID_VALUE", `${field} must be ${min}..${max} characters`, field);
  }
  if (!PRINTABLE_ASCII.test(v) || (pattern && !pattern.test(v))) {
    return fail("E_INVALID_VALUE", `${field} has characters outside its alphabet`, field);
  }
  return ok(v);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Any Unicode text of at most `maxBytes` UTF-8 bytes. */
export function readText(v: unknown, field: string, maxBytes: number): Result<string> {
  if (typeof v !== "string") return fail("E_WRONG_TYPE", `${field} must be a text string`, field);
  if (LONE_SURROGATE.test(v)) return fail("E_INVALID_VALUE", `${field} is not valid Unicode`, field);
  if (utf8Length(v) > maxBytes)
    return fail("E_INVALID_VALUE", `${field} is longer than ${maxBytes} bytes`, field);
  return ok(v);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** [PROTO-30] Cuts human text to the limit at a code point boundary instead of failing. */
export function truncateUtf8(s: string, maxBytes: number = MESSAGE_MAX_BYTES): string {
  if (utf8Length(s) <= maxBytes) return s;
  let n = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length;
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (n + w > maxBytes) break;
    n += w;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}

/** Reads a required key; absent (undefined) is E_MISSING_FIELD. [PROTO-19] */
export function required(get: (key: number) => unknown, key: number, field: string): Result<unknown> {
  const v = get(key);
  return v === undefined ? fail("E_MISSING_FIELD", `${field} is missing`, field) : ok(v);
}
