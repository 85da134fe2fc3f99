/**
 * [PROTO-37] … [PROTO-39] Proof of key possession at MQTT CONNECT: username = deviceId =
 * client id, password = a COSE_Sign1 by the device key over {clientId, publicKey, nonce,
 * timestamp}. Shared by both sides; the crypto is passed in (tweetnacl on the device,
 * libsodium on the gateway), as for requests.
 */
import { cborUint, decodeCbor, encodeCbor } from "./cbor-codec.ts";
import {
  ConnectProofKey,
  MAX_CONNECT_PROOF_BYTES,
  MESSAGE_TYPE_CONNECT_PROOF,
  PROTOCOL_VERSION,
} from "./constants.ts";
import { EDDSA_PROTECTED_HEADER, encodeSign1, parseSign1, sigStructure } from "./cose-sign1.ts";
import { isValidDeviceId } from "./device-id-format.ts";
import { hasCanonicalS, hasSmallOrderR } from "./ed25519-rules.ts";
import { fail, ok, type ProtocolErrorCode, type Result } from "./errors.ts";
import { checkClockSkew, type RequestCrypto } from "./open-request.ts";
import { checkVersionAndType, required, toIntKeyedMap } from "./payload-fields.ts";
import { readNonce, readPublicKey, readTimestamp } from "./request-payload.ts";

/** [PROTO-38] The payload fields of a CONNECT proof. */
export interface ConnectProofFields {
  /** The MQTT client id the proof is for: the deviceId of publicKey. */
  clientId: string;
  publicKey: Uint8Array;
  nonce: Uint8Array;
  timestamp: number;
}

/** A verified CONNECT proof: the session may be bound to `publicKey`. */
export interface ConnectProof extends ConnectProofFields {
  deviceId: string;
}

/** What an MQTT 3.1.1 CONNECT carries that the proof check reads. */
export interface ConnectCredentials {
  clientId: string;
  username?: string | undefined;
  password?: Uint8Array | undefined;
}

export interface ConnectProofOptions {
  /** Gateway clock in unix seconds; defaults to Date.now(). */
  nowSeconds?: number;
  /** [PROTO-22] accepted |now - timestamp|; default 300. */
  maxSkewSeconds?: number;
}

const PROOF_KEYS: ReadonlySet<number> = new Set(Object.values(ConnectProofKey));

/** Ascending key order, so the first failing key decides the error. [PROTO-38] [PROTO-19] */
function readProofFields(get: (key: number) => unknown): Result<ConnectProofFields> {
  const idRaw = required(get, ConnectProofKey.clientId, "clientId");
  if (!idRaw.ok) return idRaw;
  if (typeof idRaw.value !== "string")
    return fail("E_WRONG_TYPE", "clientId must be a text string", "clientId");
  if (!isValidDeviceId(idRaw.value))
    return fail("E_INVALID_VALUE", "clientId must be a deviceId", "clientId");

  const pkRaw = required(get, ConnectProofKey.publicKey, "publicKey");
  if (!pkRaw.ok) return pkRaw;
  const publicKey = readPublicKey(pkRaw.value);
  if (!publicKey.ok) return publicKey;

  const nonce = readNonce(get, ConnectProofKey.nonce);
  if (!nonce.ok) return nonce;
  const timestamp = readTimestamp(get, ConnectProofKey.timestamp);
  if (!timestamp.ok) return timestamp;

  return ok({
    clientId: idRaw.value,
    publicKey: publicKey.value,
    nonce: nonce.value,
    timestamp: timestamp.value,
  });
}

/** Strict decode of proof payload bytes. [PROTO-38] */
function parseConnectProofPayload(bytes: Uint8Array): Result<ConnectProofFields> {
  const decoded = decodeCbor(bytes);
  if (!decoded.ok) return decoded;
  const head = checkVersionAndType(decoded.value, MESSAGE_TYPE_CONNECT_PROOF);
  if (!head.ok) return head;
  const map = toIntKeyedMap(decoded.value, PROOF_KEYS);
  if (!map.ok) return map;
  return readProofFields((k) => map.value.get(k));
}

/** Deterministic proof payload bytes; throws ProtocolError on bad input (a caller bug). [PROTO-7] */
function buildConnectProofPayload(fields: ConnectProofFields): Uint8Array {
  const input = new Map<number, unknown>([
    [ConnectProofKey.clientId, fields.clientId],
    [ConnectProofKey.publicKey, fields.publicKey],
    [ConnectProofKey.nonce, fields.nonce],
    [ConnectProofKey.timestamp, fields.timestamp],
  ]);
  const r = readProofFields((k) => input.get(k));
  if (!r.ok) throw r.error;
  const v = r.value;
  return encodeCbor(
    new Map<number, unknown>([
      [ConnectProofKey.version, PROTOCOL_VERSION],
      [ConnectProofKey.messageType, MESSAGE_TYPE_CONNECT_PROOF],
      [ConnectProofKey.clientId, v.clientId],
      [ConnectProofKey.publicKey, v.publicKey],
      [ConnectProofKey.nonce, v.nonce],
      [ConnectProofKey.timestamp, cborUint(v.timestamp)],
    ]),
  );
}

/** [PROTO-37] The signed proof frame (the MQTT password) from its fields and a signing function. */
export function signConnectProof(
  fields: ConnectProofFields,
  signBytes: (message: Uint8Array) => Uint8Array,
): Uint8Array {
  const payload = buildConnectProofPayload(fields);
  return encodeSign1(
    EDDSA_PROTECTED_HEADER,
    payload,
    signBytes(sigStructure(EDDSA_PROTECTED_HEADER, payload)),
  );
}

/** First byte of every tagged COSE_Sign1 (tag 18): a raw proof starts with it, base64url text never does. */
const TAG18_HEAD = 0xd2;
/** [PROTO-37] base64url text of a proof of at most MAX_CONNECT_PROOF_BYTES bytes, no padding. */
const MAX_CONNECT_PROOF_TEXT_CHARS = Math.ceil((MAX_CONNECT_PROOF_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * [PROTO-37] [PROTO-39] step 3: the proof bytes of a Password sent raw, or as base64url text
 * (for MQTT libraries that take the password as a C string). Strict: canonical, no padding.
 */
function proofBytes(password: Uint8Array): Result<Uint8Array> {
  if (password[0] === TAG18_HEAD) return ok(password);
  if (password.length > MAX_CONNECT_PROOF_TEXT_CHARS)
    return fail("E_TOO_LARGE", `password text over ${MAX_CONNECT_PROOF_TEXT_CHARS} characters`, "password");
  const text = Buffer.from(password.buffer, password.byteOffset, password.byteLength).toString("latin1");
  const bytes = BASE64URL.test(text) ? Buffer.from(text, "base64url") : undefined;
  if (!bytes || bytes.toString("base64url") !== text)
    return fail("E_BAD_ENCODING", "password is neither a COSE_Sign1 nor its base64url text", "password");
  return ok(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** [PROTO-37] The base64url text form of a proof, for MQTT clients whose password is a string. */
export function connectProofText(proof: Uint8Array): string {
  return Buffer.from(proof.buffer, proof.byteOffset, proof.byteLength).toString("base64url");
}

/**
 * [PROTO-39] The gateway's CONNECT check, in the SPEC order: credentials present, username =
 * client id, size, CBOR profile and envelope, payload, binding of clientId and key to the
 * CONNECT's client id, signature, clock skew. Replay is left to the stateful ReplayGuard
 * (the same memory as requests, PROTO-23). Never throws.
 */
export function openConnectProof(
  creds: ConnectCredentials,
  opts: ConnectProofOptions | undefined,
  crypto: RequestCrypto,
): Result<ConnectProof> {
  try {
    if (typeof creds.username !== "string" || creds.username === "")
      return fail("E_MISSING_FIELD", "CONNECT has no username", "username");
    if (!(creds.password instanceof Uint8Array) || creds.password.length === 0)
      return fail("E_MISSING_FIELD", "CONNECT has no password (connect proof)", "password");
    if (creds.username !== creds.clientId)
      return fail("E_CLIENT_MISMATCH", "username must equal the client id", "username");
    const bytes = proofBytes(creds.password);
    if (!bytes.ok) return bytes;
    const sign1 = parseSign1(bytes.value, MAX_CONNECT_PROOF_BYTES);
    if (!sign1.ok) return sign1;
    const { protectedBytes, payload, signature } = sign1.value;
    const fields = parseConnectProofPayload(payload);
    if (!fields.ok) return fields;
    const f = fields.value;
    if (f.clientId !== creds.clientId)
      return fail("E_CLIENT_MISMATCH", "proof is for another client id", "clientId");
    const deviceId = crypto.deviceIdOf(f.publicKey);
    if (deviceId !== creds.clientId)
      return fail("E_CLIENT_MISMATCH", "proof key does not belong to the client id", "publicKey");
    if (
      !hasCanonicalS(signature) ||
      hasSmallOrderR(signature) ||
      !crypto.verify(sigStructure(protectedBytes, payload), signature, f.publicKey)
    )
      return fail("E_BAD_SIGNATURE", "proof signature does not verify with its public key", "signature");
    const fresh = checkClockSkew(f.timestamp, opts);
    if (!fresh.ok) return fresh;
    return ok({ ...f, deviceId });
  } catch (e) {
    // Defence in depth: a bug in a check must not take the broker down. [PROTO-36]
    return fail(
      "E_MALFORMED_CBOR",
      `unexpected decoder failure: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** MQTT 3.1.1 CONNACK return codes a refused CONNECT gets [PROTO-40]. */
export const CONNACK = {
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

/**
 * [PROTO-40] The CONNACK return code for a CONNECT that failed PROTO-39: 5 for a proof that
 * is not fresh (skew, replay), 3 when the replay memory is full, 4 for everything else.
 */
export function connackForConnectError(code: ProtocolErrorCode): 3 | 4 | 5 {
  if (code === "E_CLOCK_SKEW" || code === "E_REPLAY") return CONNACK.notAuthorized;
  if (code === "E_REPLAY_CACHE_FULL") return CONNACK.serverUnavailable;
  return CONNACK.badUsernameOrPassword;
}
