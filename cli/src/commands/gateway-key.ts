import { readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;
/** DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410); the 32 key bytes follow. */
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

function fromText(text: string): Uint8Array | undefined {
  const t = text.trim();
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(t);
  if (pem) {
    const der = Buffer.from(pem[1]!.replace(/\s+/g, ""), "base64");
    if (der.length === 44 && der.subarray(0, 12).equals(SPKI_ED25519))
      return new Uint8Array(der.subarray(12));
    return undefined;
  }
  // Hex first: 64 hex digits are also valid base64 (of 48 bytes).
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, "hex"));
  if (BASE64.test(t) || BASE64URL.test(t)) {
    const b = Buffer.from(t, BASE64.test(t) ? "base64" : "base64url");
    return b.length === 32 ? new Uint8Array(b) : undefined;
  }
  return undefined;
}

/**
 * --gateway-key: the gateway's Ed25519 public key as base64 (or hex), or @file holding
 * that text, a PEM "PUBLIC KEY", or the 32 raw bytes.
 */
export function parseGatewayKey(arg: string): Uint8Array {
  const usage =
    "--gateway-key must be the gateway's 32-byte Ed25519 public key: base64, hex, or @file (base64, PEM or raw)";
  if (arg.startsWith("@")) {
    const path = arg.slice(1);
    let raw: Buffer;
    try {
      raw = readFileSync(path);
    } catch (e) {
      throw new UsageError(
        `cannot read --gateway-key file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
    const key = fromText(raw.toString("utf8")) ?? (raw.length === 32 ? new Uint8Array(raw) : undefined);
    if (!key) throw new UsageError(`${usage}; ${path} holds none of these`);
    return key;
  }
  const key = fromText(arg);
  if (!key)
    throw new UsageError(`${usage}; got ${JSON.stringify(arg.length > 60 ? `${arg.slice(0, 57)}...` : arg)}`);
  return key;
}
