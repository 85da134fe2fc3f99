/**
 * The device's "flash": an Ed25519 seed and what follows from it, plus the last UUID the
 * gateway assigned. One JSON file per device, written atomically with mode 0600, so a
 * reboot (or a re-run of the same fleet) keeps the key and therefore the UUID.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import type { DeviceKeyPair } from "@devreg/protocol";
import type { DeviceCrypto } from "./device-crypto.ts";
import { SimError } from "./errors.ts";

export const IDENTITY_FILE_VERSION = 1;

/** The file as stored. Keys are standard padded base64. */
export interface IdentityFile {
  version: 1;
  deviceId: string;
  publicKey: string;
  /** The 32-byte Ed25519 private key (RFC 8032 seed). Secret. */
  seed: string;
  deviceUUID: string | null;
  updatedAt: string;
}

/**
 * A device identity in memory. The seed is a private field so that console.log,
 * util.inspect and JSON.stringify of an identity never print the private key.
 */
export class DeviceIdentity {
  readonly #seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly deviceId: string;
  deviceUUID: string | undefined;

  constructor(seed: Uint8Array, publicKey: Uint8Array, deviceUUID?: string) {
    this.#seed = seed;
    this.publicKey = publicKey;
    this.deviceId = deviceIdFromPublicKey(publicKey);
    this.deviceUUID = deviceUUID;
  }

  /** The 32-byte private seed; only for signing and for writing the identity file. */
  get seed(): Uint8Array {
    return this.#seed;
  }

  keyPair(): DeviceKeyPair {
    const secretKey = new Uint8Array(64);
    secretKey.set(this.#seed, 0);
    secretKey.set(this.publicKey, 32);
    return { publicKey: this.publicKey, secretKey };
  }

  toJSON(): { deviceId: string; deviceUUID: string | undefined } {
    return { deviceId: this.deviceId, deviceUUID: this.deviceUUID };
  }
}

/** A fresh identity, or the one for a given seed. */
export function createIdentity(crypto: DeviceCrypto, seed: Uint8Array = crypto.randomSeed()): DeviceIdentity {
  const kp = crypto.keyPairFromSeed(seed);
  return new DeviceIdentity(Uint8Array.from(seed), kp.publicKey);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function bytes32(v: unknown, field: string): Uint8Array | string {
  if (typeof v !== "string" || !BASE64.test(v)) return `${field} is not base64`;
  const b = Buffer.from(v, "base64");
  if (b.length !== 32) return `${field} is ${b.length} bytes, expected 32`;
  return new Uint8Array(b);
}

/**
 * Pure parse of an identity file's text. Returns the identity or the reason it is
 * unusable; the public key and deviceId must match the seed, so a hand-edited file
 * cannot make the device claim a key it does not hold.
 */
export function parseIdentity(text: string, crypto: DeviceCrypto): DeviceIdentity | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `not JSON (${e instanceof Error ? e.message : String(e)})`;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return "not a JSON object";
  const f = raw as Partial<Record<keyof IdentityFile, unknown>>;
  if (f.version !== IDENTITY_FILE_VERSION) return `unsupported version ${JSON.stringify(f.version)}`;
  const seed = bytes32(f.seed, "seed");
  if (typeof seed === "string") return seed;
  const publicKey = bytes32(f.publicKey, "publicKey");
  if (typeof publicKey === "string") return publicKey;
  const derived = crypto.keyPairFromSeed(seed).publicKey;
  if (Buffer.compare(derived, publicKey) !== 0) return "publicKey does not belong to seed";
  const identity = new DeviceIdentity(seed, publicKey);
  if (f.deviceId !== identity.deviceId) return "deviceId does not match publicKey";
  if (f.deviceUUID !== undefined && f.deviceUUID !== null) {
    if (typeof f.deviceUUID !== "string" || !UUID.test(f.deviceUUID)) return "deviceUUID is not a UUID";
    identity.deviceUUID = f.deviceUUID;
  }
  return identity;
}

export function serializeIdentity(identity: DeviceIdentity, now: Date = new Date()): string {
  const file: IdentityFile = {
    version: IDENTITY_FILE_VERSION,
    deviceId: identity.deviceId,
    publicKey: Buffer.from(identity.publicKey).toString("base64"),
    seed: Buffer.from(identity.seed).toString("base64"),
    deviceUUID: identity.deviceUUID ?? null,
    updatedAt: now.toISOString(),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

function ioError(path: string, verb: string, e: unknown): SimError {
  const code = (e as NodeJS.ErrnoException)?.code ?? (e instanceof Error ? e.message : String(e));
  return new SimError("E_IDENTITY_IO", `cannot ${verb} identity file ${path}: ${code}`, { cause: e });
}

/** The identity stored at `path`, or null if there is no file. Throws SimError otherwise. */
export async function loadIdentity(path: string, crypto: DeviceCrypto): Promise<DeviceIdentity | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError(path, "read", e);
  }
  const parsed = parseIdentity(text, crypto);
  if (typeof parsed === "string") {
    throw new SimError("E_IDENTITY_CORRUPT", `identity file ${path} is corrupt: ${parsed}`);
  }
  return parsed;
}

/**
 * Writes via a 0600 temp file, fsync and rename, so a crash leaves either the old file or
 * the new one, never a torn one, and the seed is never readable by other users.
 */
export async function saveIdentity(path: string, identity: DeviceIdentity): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(serializeIdentity(identity));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw ioError(path, "write", e);
  }
}

/** Boot-time "read flash": the stored identity, or a new one written to `path`. */
export async function loadOrCreateIdentity(path: string, crypto: DeviceCrypto): Promise<DeviceIdentity> {
  const existing = await loadIdentity(path, crypto);
  if (existing) return existing;
  const fresh = createIdentity(crypto);
  await saveIdentity(path, fresh);
  return fresh;
}
