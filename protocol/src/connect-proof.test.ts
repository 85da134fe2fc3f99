import { describe, expect, it } from "vitest";
import { isDeterministic } from "./cbor-wellformed.ts";
import { MAX_CONNECT_PROOF_BYTES } from "./constants.ts";
import { fromHex, toHex } from "./hex.ts";
import {
  type ConnectCredentials,
  connackForConnectError,
  connectProofText,
  decodeConnectProof,
  decodeConnectProofWithNacl,
  decodeEnrollRequest,
  decodeEnrollRequestWithNacl,
  deviceIdFromPublicKey,
  encodeConnectProof,
  encodeConnectProofWithNode,
  generateDeviceKeyPair,
  ReplayGuard,
} from "./index.ts";
import { decodeConnectProofWithOpenssl, decodeEnrollRequestWithOpenssl } from "./openssl-twin.ts";
import { connectVectors, requestVectors } from "./test-vectors.ts";

/** The gateway (libsodium) and its tweetnacl and OpenSSL twins. */
const decoders = [decodeConnectProof, decodeConnectProofWithNacl, decodeConnectProofWithOpenssl];
const minimal = connectVectors.valid[0]!;

describe("CONNECT proof vectors", () => {
  for (const v of connectVectors.valid) {
    const keyPair = generateDeviceKeyPair(fromHex(v.seed));
    it(`[PROTO-38] ${v.name}: tweetnacl and node:crypto encoders reproduce the password byte for byte`, () => {
      const input = { keyPair, nonce: fromHex(v.nonce), timestamp: v.timestamp };
      const a = encodeConnectProof(input);
      expect(toHex(a)).toBe(v.password);
      expect(toHex(encodeConnectProofWithNode(input))).toBe(v.password);
      expect(a.length).toBe(v.passwordLength);
      expect(a.length).toBeLessThanOrEqual(MAX_CONNECT_PROOF_BYTES);
      expect(isDeterministic(a)).toBe(true);
      const payloadHead = `58${(v.payload.length / 2).toString(16).padStart(2, "0")}`;
      expect(v.sigStructure).toBe(`846a5369676e61747572653143a1012740${payloadHead}${v.payload}`);
    });

    it(`[PROTO-37] ${v.name}: the base64url text form is the same proof`, () => {
      expect(connectProofText(fromHex(v.password))).toBe(v.passwordText);
      expect(v.passwordText).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it(`[PROTO-39] ${v.name}: the gateway and its twins accept it, raw or as text, and bind the key`, () => {
      const forms = [fromHex(v.password), new TextEncoder().encode(v.passwordText)];
      for (const [decode, password] of decoders.flatMap((d) => forms.map((p) => [d, p] as const))) {
        const r = decode(
          { clientId: v.clientId, username: v.username, password },
          { nowSeconds: v.timestamp },
        );
        expect(r.ok ? "ok" : r.error.code).toBe("ok");
        if (r.ok) {
          expect(toHex(r.value.publicKey)).toBe(v.publicKey);
          expect(r.value.deviceId).toBe(v.clientId);
          expect(toHex(r.value.nonce)).toBe(v.nonce);
        }
      }
    });
  }

  it("[PROTO-39] covers every way a CONNECT is refused", () => {
    const codes = new Set(connectVectors.invalid.map((v) => v.expectedError));
    for (const c of [
      "E_MISSING_FIELD",
      "E_CLIENT_MISMATCH",
      "E_TOO_LARGE",
      "E_BAD_SIGNATURE",
      "E_BAD_KEY",
      "E_CLOCK_SKEW",
      "E_REPLAY",
    ])
      expect(codes).toContain(c);
  });

  for (const v of connectVectors.invalid) {
    it(`[PROTO-39] ${v.name}: the gateway and its twins refuse with ${v.expectedError}`, () => {
      const creds: ConnectCredentials = {
        clientId: v.clientId ?? minimal.clientId,
        username: v.username === null ? undefined : (v.username ?? minimal.username),
        password:
          v.password === null ? undefined : fromHex(v.password === undefined ? minimal.password : v.password),
      };
      const nowSeconds = v.nowSeconds ?? connectVectors.nowSeconds;
      for (const decode of decoders) {
        const guard = new ReplayGuard();
        // The gateway's full check: proof, then the replay memory [PROTO-39] step 9.
        const present = () => {
          const r = decode(creds, { nowSeconds });
          if (!r.ok) return r.error.code;
          const fresh = guard.check(r.value.deviceId, r.value.nonce, nowSeconds);
          return fresh.ok ? "ok" : fresh.error.code;
        };
        if (v.presentTwice) expect(present(), v.description).toBe("ok");
        expect(present(), v.description).toBe(v.expectedError);
      }
    });
  }
});

describe("CONNECT proofs", () => {
  const keyPair = generateDeviceKeyPair();
  const now = 1_800_000_000;

  it("[PROTO-37] a fresh nonce gives a different password each time; each verifies once", () => {
    const nonce1 = new Uint8Array(16).fill(1);
    const nonce2 = new Uint8Array(16).fill(2);
    const a = encodeConnectProof({ keyPair, nonce: nonce1, timestamp: now });
    const b = encodeConnectProof({ keyPair, nonce: nonce2, timestamp: now });
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it("[PROTO-22] [PROTO-39] skew limit is inclusive at 300 s and configurable", () => {
    const password = encodeConnectProof({ keyPair, nonce: new Uint8Array(16), timestamp: now });
    const id = deviceIdFromPublicKey(keyPair.publicKey);
    const creds = { clientId: id, username: id, password };
    for (const decode of decoders) {
      expect(decode(creds, { nowSeconds: now + 300 }).ok).toBe(true);
      expect(decode(creds, { nowSeconds: now - 300 }).ok).toBe(true);
      const late = decode(creds, { nowSeconds: now + 301 });
      expect(late.ok ? "ok" : late.error.code).toBe("E_CLOCK_SKEW");
    }
    const tight = decodeConnectProof(creds, { nowSeconds: now + 11, maxSkewSeconds: 10 });
    expect(tight.ok ? "ok" : tight.error.code).toBe("E_CLOCK_SKEW");
  });

  it("[PROTO-36] never throws on garbage credentials", () => {
    const junk: unknown[] = [null, undefined, 5, "str", new Uint8Array(0), new Uint8Array(300), {}];
    for (const password of junk) {
      for (const decode of decoders) {
        const r = decode({
          clientId: minimal.clientId,
          username: minimal.username,
          password: password as Uint8Array,
        });
        expect(r.ok).toBe(false);
      }
    }
  });
});

describe("refusal and binding", () => {
  it("[PROTO-40] CONNACK 5 for a proof that is not fresh, 3 for a full replay memory, 4 otherwise", () => {
    const expected: Record<string, number> = { E_CLOCK_SKEW: 5, E_REPLAY: 5, E_REPLAY_CACHE_FULL: 3 };
    for (const v of connectVectors.invalid)
      expect(connackForConnectError(v.expectedError), v.name).toBe(expected[v.expectedError] ?? 4);
    expect(connackForConnectError("E_REPLAY_CACHE_FULL")).toBe(3);
  });

  it("[PROTO-41] a verified proof binds the client id to exactly the key that signed it", () => {
    const a = generateDeviceKeyPair();
    const b = generateDeviceKeyPair();
    const now = 1_800_000_000;
    const idA = deviceIdFromPublicKey(a.publicKey);
    const proofA = encodeConnectProof({ keyPair: a, nonce: new Uint8Array(16).fill(7), timestamp: now });
    const r = decodeConnectProof({ clientId: idA, username: idA, password: proofA }, { nowSeconds: now });
    expect(r.ok && toHex(r.value.publicKey)).toBe(toHex(a.publicKey));
    // The same proof cannot open, or take over, the session of another id.
    const idB = deviceIdFromPublicKey(b.publicKey);
    const other = decodeConnectProof({ clientId: idB, username: idB, password: proofA }, { nowSeconds: now });
    expect(other.ok ? "ok" : other.error.code).toBe("E_CLIENT_MISMATCH");
  });
});

describe("[PROTO-15] Sig_structure head", () => {
  for (const v of requestVectors.accepted) {
    it(`${v.name}: the gateway and its twins accept it (the Sig_structure uses the shortest head)`, () => {
      for (const decode of [
        decodeEnrollRequest,
        decodeEnrollRequestWithNacl,
        decodeEnrollRequestWithOpenssl,
      ]) {
        const r = decode(fromHex(v.frame), { nowSeconds: v.nowSeconds, expectedDeviceId: v.deviceId });
        expect(r.ok ? "ok" : r.error.code).toBe("ok");
      }
    });
  }
});
