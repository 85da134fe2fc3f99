import { Tag } from "cbor-x";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeCbor } from "./cbor-codec.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1 } from "./cose-sign1.ts";
import { fromHex, toHex } from "./hex.ts";
import {
  createGatewaySigner,
  decodeEnrollReplyUnverified,
  decodeEnrollRequest,
  decodeEnrollRequestWithNacl,
  decodeJsonEnrollRequest,
  type EnrollReply,
  encodeEnrollReply,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  ProtocolError,
  peekRequestId,
  type ReplyStatus,
  verifyEnrollReply,
  verifyEnrollReplyWithNode,
} from "./index.ts";
import { decodeEnrollRequestWithOpenssl } from "./openssl-twin.ts";
import { negativeVectors, replyVectors, requestVectors } from "./test-vectors.ts";

const NOW = 1_700_000_000;
const gatewayKey = fromHex(replyVectors.gatewayPublicKey);
const seeds: Uint8Array[] = [
  ...requestVectors.vectors.map((v) => fromHex(v.frame)),
  ...replyVectors.vectors.map((v) => fromHex(v.frame)),
  ...negativeVectors.vectors.map((v) => fromHex(v.frame)),
];
const KNOWN_CODES = new Set([
  "E_TOO_LARGE",
  "E_MALFORMED_CBOR",
  "E_TRAILING_BYTES",
  "E_DUPLICATE_KEY",
  "E_INDEFINITE_LENGTH",
  "E_TOO_DEEP",
  "E_UNKNOWN_VERSION",
  "E_WRONG_MESSAGE_TYPE",
  "E_MISSING_FIELD",
  "E_EXTRA_FIELD",
  "E_WRONG_TYPE",
  "E_INVALID_VALUE",
  "E_BAD_ALGORITHM",
  "E_BAD_KEY",
  "E_BAD_SIGNATURE",
  "E_CLOCK_SKEW",
  "E_REPLAY",
  "E_REPLAY_CACHE_FULL",
  "E_TOPIC_MISMATCH",
  "E_UNEXPECTED_REPLY",
  "E_BAD_ENCODING",
]);

let framesTried = 0;

/**
 * Every decoder on one frame: each must return ok or a typed error with a known code.
 * The gateway (libsodium), its OpenSSL twin and the node:crypto reply check see every frame,
 * and the gateway must give the OpenSSL twin's answer. tweetnacl needs ~5-10 ms per verify,
 * so its twins see every 8th frame plus every frame the fast side accepts, and must agree.
 * Plain checks, not expect(): this runs tens of thousands of times.
 */
function throwEverything(frame: Uint8Array): void {
  framesTried++;
  const outcome = (r: { ok: true } | { ok: false; error: unknown }): string => {
    if (r.ok) return "ok";
    if (!(r.error instanceof ProtocolError) || !KNOWN_CODES.has(r.error.code)) {
      throw new Error(`untyped failure ${String(r.error)} for ${toHex(frame)}`);
    }
    return r.error.code;
  };
  const gw = outcome(decodeEnrollRequest(frame, { nowSeconds: NOW }));
  const ossl = outcome(decodeEnrollRequestWithOpenssl(frame, { nowSeconds: NOW }));
  if (gw !== ossl) throw new Error(`request: libsodium ${gw} vs OpenSSL ${ossl} for ${toHex(frame)}`);
  const devNode = outcome(verifyEnrollReplyWithNode(frame, gatewayKey));
  outcome(decodeEnrollReplyUnverified(frame));
  const id = peekRequestId(frame);
  if (id !== null && typeof id !== "string") throw new Error("peekRequestId returned a non-string");
  const sample = framesTried % 8 === 0;
  if (sample || gw === "ok") {
    const nacl = outcome(decodeEnrollRequestWithNacl(frame, { nowSeconds: NOW }));
    if (gw !== nacl) throw new Error(`request: libsodium ${gw} vs tweetnacl ${nacl} for ${toHex(frame)}`);
  }
  if (sample || devNode === "ok") {
    const dev = outcome(verifyEnrollReply(frame, gatewayKey));
    if (dev !== devNode) throw new Error(`reply: tweetnacl ${dev} vs node ${devNode} for ${toHex(frame)}`);
  }
}

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "insert"; at: number; value: number }
  | { op: "delete"; at: number }
  | { op: "truncate"; at: number }
  | { op: "duplicate"; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant("set" as const),
    at: fc.nat(),
    value: fc.constantFrom(
      0x00,
      0x1f,
      0x3f,
      0x5f,
      0x7f,
      0x9f,
      0xbf,
      0xff,
      0xf6,
      0xfb,
      0x1b,
      0xd2,
      0xa0,
      0x80,
    ),
  }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(frame: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = Array.from(frame);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.op) {
      case "flip":
        if (b.length) b[at]! ^= 1 << m.bit;
        break;
      case "set":
        if (b.length) b[at] = m.value;
        break;
      case "insert":
        b.splice(at, 0, m.value);
        break;
      case "delete":
        b.splice(at, 1);
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "duplicate":
        b.splice(at, 0, ...b.slice(at, at + m.len));
        break;
    }
  }
  return Uint8Array.from(b);
}

/** Random CBOR values: enough structure to get past the walker and into the schema checks. */
const cborValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -1000, max: 2 ** 32 }),
    fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -8, NOW),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(new Uint8Array(16), new Uint8Array(32), new Uint8Array(64)),
    fc.array(tie("value"), { maxLength: 4 }),
    fc
      .array(fc.tuple(fc.integer({ min: -2, max: 12 }), tie("value")), { maxLength: 12 })
      .map((entries) => new Map(entries)),
  ),
}));

describe("decoders under fuzzing [PROTO-36]", () => {
  it("[PROTO-36] random bytes: never throw, always ok or a typed error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => throwEverything(bytes)),
      { numRuns: 3000 },
    );
  });

  it("[PROTO-36] mutated valid and negative frames: never throw, implementations agree", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (seed, muts) => throwEverything(mutate(seed, muts)),
      ),
      { numRuns: 5000 },
    );
  });

  it("[PROTO-36] well-formed envelopes around random payloads reach the schema checks safely", () => {
    fc.assert(
      fc.property(cborValue.value, fc.boolean(), (payloadValue, tagged) => {
        const payload = encodeCbor(payloadValue);
        const frame = tagged
          ? encodeSign1(EDDSA_PROTECTED_HEADER, payload, new Uint8Array(64))
          : encodeCbor(new Tag(payloadValue, 18));
        throwEverything(frame);
        throwEverything(payload);
      }),
      { numRuns: 2000 },
    );
  });

  it("[PROTO-36] JSON request bodies: never throw", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        const r = decodeJsonEnrollRequest(body);
        if (!r.ok) expect(r.error).toBeInstanceOf(ProtocolError);
      }),
      { numRuns: 1000 },
    );
  });

  it("[PROTO-36] at least 10,000 frames were thrown at the decoders", () => {
    expect(framesTried).toBeGreaterThanOrEqual(10_000);
  });
});

const ascii = (min: number, max: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: min,
    maxLength: max,
  });
const idChars = fc.constantFrom(..."abcXYZ019-_".split(""));

describe("device and gateway agree on random valid messages", () => {
  it("[PROTO-17] [PROTO-20] any valid request from tweetnacl decodes on the gateway to the same fields", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ unit: idChars, minLength: 1, maxLength: 36 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        ascii(1, 64),
        ascii(1, 32),
        fc.option(ascii(1, 32), { nil: undefined }),
        fc.option(ascii(1, 64), { nil: undefined }),
        (seed, requestId, nonce, timestamp, model, firmwareVersion, hardwareRevision, serialNumber) => {
          const keyPair = generateDeviceKeyPair(seed);
          const metadata = {
            model,
            firmwareVersion,
            ...(hardwareRevision !== undefined ? { hardwareRevision } : {}),
            ...(serialNumber !== undefined ? { serialNumber } : {}),
          };
          const frame = encodeEnrollRequest({ keyPair, requestId, nonce, timestamp, metadata });
          const r = decodeEnrollRequest(frame, { nowSeconds: timestamp });
          expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
          if (r.ok)
            expect(r.value).toMatchObject({
              requestId,
              nonce,
              timestamp,
              metadata,
              publicKey: keyPair.publicKey,
            });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("[PROTO-25] [PROTO-29] any valid reply signed with libsodium verifies on tweetnacl to the same fields", () => {
    const gw = createGatewaySigner(new Uint8Array(32).fill(11));
    const statuses: ReplyStatus[] = ["approved", "rejected", "pending", "deactivated", "busy", "error"];
    fc.assert(
      fc.property(
        fc.constantFrom(...statuses),
        fc.string({ unit: idChars, minLength: 1, maxLength: 36 }),
        fc.uuid({ version: 4 }),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        fc.integer({ min: 0, max: 86_400 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (status, requestId, uuid, message, retry, timestamp) => {
          const reply: EnrollReply = {
            version: 1,
            requestId,
            deviceId: "0123456789abcdef0123456789abcdef",
            status,
            deviceUUID: uuid,
            reason: "SomeReason",
            retryAfterSeconds: retry,
            timestamp,
            ...(message !== undefined ? { message } : {}),
          };
          const r = verifyEnrollReply(encodeEnrollReply(reply, gw), gw.publicKey, { requestId });
          expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
          if (r.ok) expect(r.value.status).toBe(status);
        },
      ),
      { numRuns: 100 },
    );
  });
});
