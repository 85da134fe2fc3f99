/**
 * Ed25519 signatures that no conforming signer produces, for negative vectors: the key
 * owner's equation S = r + k·a (RFC 8032 §5.1.6) with an R of our choosing. Plain BigInt
 * arithmetic on edwards25519, independent of tweetnacl, OpenSSL and libsodium. Slow and
 * variable-time: for vectors only, never for a real key.
 */
import { createHash } from "node:crypto";

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m = P): bigint => ((a % m) + m) % m;
function pow(base: bigint, exp: bigint): bigint {
  let r = 1n;
  let b = mod(base);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = mod(r * b);
    b = mod(b * b);
  }
  return r;
}
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** Extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];
const IDENTITY_POINT: Point = [0n, 1n, 1n, 0n];

const fromLe = (b: Uint8Array): bigint => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
function toLe(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, v = x; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** RFC 8032 §5.1.3, except that y >= p is reduced instead of refused (to test such keys). */
function decode(encoding: Uint8Array): Point | null {
  const sign = encoding[31]! >> 7;
  const y = mod(fromLe(encoding) & ((1n << 255n) - 1n));
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = pow(mod(u * inv(v)), (P + 3n) / 8n);
  if (mod(v * x * x) !== u) x = mod(x * SQRT_M1);
  if (mod(v * x * x) !== u || (x === 0n && sign === 1)) return null;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return [x, y, 1n, mod(x * y)];
}

function encode([X, Y, Z]: Point): Uint8Array {
  const zi = inv(Z);
  const out = toLe(mod(Y * zi));
  out[31]! |= Number(mod(X * zi) & 1n) << 7;
  return out;
}

/** RFC 8032 §5.1.4 addition. */
function add([X1, Y1, Z1, T1]: Point, [X2, Y2, Z2, T2]: Point): Point {
  const a = mod((Y1 - X1) * (Y2 - X2));
  const b = mod((Y1 + X1) * (Y2 + X2));
  const c = mod(2n * D * T1 * T2);
  const d = mod(2n * Z1 * Z2);
  const [e, f, g, h] = [b - a, d - c, d + c, b + a];
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(k: bigint, point: Point): Point {
  let acc = IDENTITY_POINT;
  for (let q = point, n = k; n > 0n; n >>= 1n, q = add(q, q)) if (n & 1n) acc = add(acc, q);
  return acc;
}

const BASE = decode(toLe(mod(4n * inv(5n))))!;
/** A point of order 8 (in the PROTO-20 list). */
const ORDER_8 = decode(
  Buffer.from("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "hex"),
)!;

const sha512 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** True when the encoding (y reduced mod p) is a point of the curve. */
export const isOnCurve = (encoding: Uint8Array): boolean => decode(encoding) !== null;

/** RFC 8032 §5.1.5: the secret scalar a of a seed. */
function secretScalar(seed: Uint8Array): bigint {
  const a = sha512(seed).slice(0, 32);
  a[0]! &= 248;
  a[31]! &= 127;
  a[31]! |= 64;
  return fromLe(a);
}

/** a·B + T, T of order 8: a key not of small order but with a small-order component. */
export const mixedOrderKey = (seed: Uint8Array): Uint8Array =>
  encode(add(multiply(secretScalar(seed), BASE), ORDER_8));

/** R = r·B, as an honest signer's, for a nonce of our choosing. */
export const baseR = (r: bigint): { r: bigint; R: Uint8Array } => ({ r, R: encode(multiply(r, BASE)) });

/** R = identity with r = 0: the cofactorless equation holds with S = k·a. */
export const IDENTITY_R = { r: 0n, R: encode(IDENTITY_POINT) };

/** R = r·B + T with T of order 8: only the cofactored equation [8]SB = [8]R + [8]kA holds. */
export function torsionR(r: bigint): { r: bigint; R: Uint8Array } {
  return { r, R: encode(add(multiply(r, BASE), ORDER_8)) };
}

/**
 * The signature (R, S = r + k·a mod L) by the key of `seed` over `message`, k = H(R‖A‖M), with
 * A the `publicKey` bytes given (the seed's own key, or one derived from it).
 */
export function signWithR(
  seed: Uint8Array,
  publicKey: Uint8Array,
  message: Uint8Array,
  { r, R }: { r: bigint; R: Uint8Array },
): Uint8Array {
  const k = mod(fromLe(sha512(R, publicKey, message)), L);
  const s = mod(r + k * secretScalar(seed), L);
  const out = new Uint8Array(64);
  out.set(R);
  out.set(toLe(s), 32);
  return out;
}
