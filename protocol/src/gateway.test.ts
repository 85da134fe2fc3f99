import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign as nodeSign, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import { baseR, mixedOrderKey, signWithR } from "../scripts/ed25519-craft.ts";
import { MAX_REQUEST_BYTES } from "./constants.ts";
import { parseSign1, sigStructure } from "./cose-sign1.ts";
import { hasSmallOrderR } from "./ed25519-rules.ts";
import { createGatewaySigner, type LocalGatewaySigner, opensslVerify, sodiumVerify } from "./gateway.ts";
import { fromHex, toHex } from "./hex.ts";
import { ProtocolError } from "./index.ts";
import { parseRequestPayload } from "./request-payload.ts";
import { negativeVectors } from "./test-vectors.ts";

/** (message, signature, key) of a negative request vector, as a raw verify sees them. */
function rawParts(name: string) {
  const v = negativeVectors.vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector ${name}`);
  const parts = parseSign1(fromHex(v.frame), MAX_REQUEST_BYTES);
  if (!parts.ok) throw parts.error;
  const fields = parseRequestPayload(parts.value.payload);
  if (!fields.ok) throw fields.error;
  const { protectedBytes, payload, signature } = parts.value;
  return { message: sigStructure(protectedBytes, payload), signature, publicKey: fields.value.publicKey };
}

const libraries = {
  tweetnacl: (m: Uint8Array, s: Uint8Array, k: Uint8Array) => nacl.sign.detached.verify(m, s, k),
  openssl: opensslVerify,
  libsodium: sodiumVerify,
};
const answers = (m: Uint8Array, s: Uint8Array, k: Uint8Array) =>
  Object.fromEntries(Object.entries(libraries).map(([name, verify]) => [name, verify(m, s, k)]));

describe("gateway Ed25519 on libsodium: what each library accepts", () => {
  it("[PROTO-20] small-order R: tweetnacl and OpenSSL accept it, libsodium and every gateway refuse it", () => {
    const { message, signature, publicKey } = rawParts("req-small-order-r");
    expect(toHex(signature.subarray(0, 32))).toBe(`01${"00".repeat(31)}`);
    expect(answers(message, signature, publicKey)).toEqual({
      tweetnacl: true,
      openssl: true,
      libsodium: false,
    });
    // The vector's E_BAD_SIGNATURE from all three decoders (vectors.test.ts) comes from this rule.
    expect(hasSmallOrderR(signature)).toBe(true);
  });

  it("[PROTO-16] an R off by a point of order 8 (cofactored-only valid) is refused by all three", () => {
    const { message, signature, publicKey } = rawParts("req-torsion-r");
    expect(hasSmallOrderR(signature)).toBe(false);
    // A libsodium that checked the cofactored equation would accept it: this pins the one we ship.
    expect(answers(message, signature, publicKey)).toEqual({
      tweetnacl: false,
      openssl: false,
      libsodium: false,
    });
  });

  it("[PROTO-20] a non-canonical key (y >= p) verifies nothing in any library", () => {
    const { message, signature, publicKey } = rawParts("req-non-canonical-key");
    expect(toHex(publicKey)).toBe(`f0${"ff".repeat(30)}7f`);
    expect(answers(message, signature, publicKey)).toEqual({
      tweetnacl: false,
      openssl: false,
      libsodium: false,
    });
  });

  it("[PROTO-20] a key with a small-order component: all three give the same answer for each signature", () => {
    const seed = new Uint8Array(32).fill(21);
    const key = mixedOrderKey(seed);
    const seen = new Set<string>();
    for (let i = 1n; i <= 16n; i++) {
      const message = new TextEncoder().encode(`message ${i}`);
      // An honest-form signature (R = r·B) under the mixed key: valid when 8 divides k.
      const a = answers(message, signWithR(seed, key, message, baseR(1000n + i)), key);
      expect(a.openssl, `message ${i}`).toBe(a.tweetnacl);
      expect(a.libsodium, `message ${i}`).toBe(a.tweetnacl);
      seen.add(String(a.tweetnacl));
    }
    expect(seen).toEqual(new Set(["true", "false"])); // both outcomes were exercised
  });
});

describe("createGatewaySigner on libsodium", () => {
  const messages = [new Uint8Array(0), Uint8Array.of(0), randomBytes(64), randomBytes(1000)];
  const sameAsNode = (signer: LocalGatewaySigner) => {
    const nodeKey = createPrivateKey(signer.privateKeyPem);
    for (const m of messages) expect(toHex(signer.signBytes(m))).toBe(toHex(nodeSign(null, m, nodeKey)));
  };

  it("[PROTO-25] signs byte for byte as node:crypto did, for a seed, a PEM and a fresh key", () => {
    sameAsNode(createGatewaySigner(new Uint8Array(32).fill(7)));
    sameAsNode(createGatewaySigner());
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const fromPem = createGatewaySigner(pem);
    sameAsNode(fromPem);
    expect(fromPem.privateKeyPem).toBe(pem);
    const nodePublic = createPrivateKey(pem).export({ format: "jwk" }).x;
    expect(Buffer.from(fromPem.publicKey).toString("base64url")).toBe(nodePublic);
  });

  it("[PROTO-25] a seed and the PEM it exports are the same key", () => {
    const seed = new Uint8Array(randomBytes(32));
    const before = toHex(seed);
    const a = createGatewaySigner(seed);
    expect(toHex(seed)).toBe(before); // only the signer's own copies are wiped, never the caller's seed
    const b = createGatewaySigner(a.privateKeyPem);
    expect(toHex(b.publicKey)).toBe(toHex(a.publicKey));
    expect(toHex(b.signBytes(messages[2]!))).toBe(toHex(a.signBytes(messages[2]!)));
  });

  it("[PROTO-25] keeps the private key out of logs and serialisations", () => {
    const seed = new Uint8Array(32).fill(0x5a);
    const signer = createGatewaySigner(seed);
    const pemBody = signer.privateKeyPem.split("\n")[1]!;
    expect(Object.keys(signer)).not.toContain("privateKeyPem");
    for (const shown of [JSON.stringify(signer), inspect(signer, { depth: 10 }), String(signer)]) {
      expect(shown).not.toContain(pemBody);
      expect(shown).not.toContain(toHex(seed));
      expect(shown).not.toContain("PRIVATE KEY");
    }
  });

  it("[PROTO-25] refuses keys that are not Ed25519 private keys with E_BAD_KEY", () => {
    const code = (key: unknown) => {
      try {
        createGatewaySigner(key as string);
        return "ok";
      } catch (e) {
        return e instanceof ProtocolError ? e.code : String(e);
      }
    };
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(code(ec.privateKey.export({ format: "pem", type: "pkcs8" }).toString())).toBe("E_BAD_KEY");
    const ed = generateKeyPairSync("ed25519");
    expect(code(ed.publicKey.export({ format: "pem", type: "spki" }).toString())).toBe("E_BAD_KEY");
    expect(code(new Uint8Array(64))).toBe("E_BAD_KEY");
    expect(code(null)).toBe("E_BAD_KEY");
    expect(code(ed.privateKey.export({ format: "pem", type: "pkcs8" }).toString())).toBe("ok");
  });
});

describe("libsodium is loaded lazily", () => {
  it("device code imports @devreg/protocol without loading the native addon; the gateway's first use loads it", () => {
    // A fresh process: vitest's own may already hold the addon.
    const script = `
      const { createRequire } = await import("node:module");
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((k) => k.includes("sodium-native"));
      const p = await import(${JSON.stringify(new URL("./index.ts", import.meta.url).href)});
      const kp = p.generateDeviceKeyPair();
      p.deviceIdFromPublicKey(kp.publicKey);
      const before = loaded();
      p.createGatewaySigner();
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(JSON.parse(out.trim().split("\n").at(-1)!)).toEqual({ before: false, after: true });
  });
});
