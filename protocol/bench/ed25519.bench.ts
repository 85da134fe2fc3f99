/**
 * The gateway's Ed25519 work before (node:crypto, OpenSSL 3) and after (libsodium through
 * sodium-native): `npm run bench:ed25519` in protocol/. Not a test. An enrollment costs the
 * gateway two verifies (CONNECT proof, request) and one sign (reply): the raw calls first,
 * then the gateway's whole checks (strict decode included) on both libraries.
 */
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { parseSign1, sigStructure, EDDSA_PROTECTED_HEADER, encodeSign1 } from "../src/cose-sign1.ts";
import { opensslVerify, sodiumVerify } from "../src/gateway.ts";
import {
  createGatewaySigner,
  decodeConnectProof,
  decodeEnrollRequest,
  deviceIdFromPublicKey,
  type EnrollReply,
  encodeConnectProof,
  encodeEnrollReply,
  encodeEnrollRequest,
  type GatewaySigner,
  generateDeviceKeyPair,
  MAX_REQUEST_BYTES,
} from "../src/index.ts";
import { decodeConnectProofWithOpenssl, decodeEnrollRequestWithOpenssl } from "../src/openssl-twin.ts";
import { buildReplyPayload } from "../src/reply-payload.ts";
import { bench, header } from "./harness.ts";

const NOW = 1_700_000_000;
const keyPair = generateDeviceKeyPair(new Uint8Array(32).fill(1));
const deviceId = deviceIdFromPublicKey(keyPair.publicKey);
const requestFrame = encodeEnrollRequest({
  keyPair,
  requestId: "0123456789abcdef",
  nonce: new Uint8Array(16).fill(7),
  timestamp: NOW,
  metadata: { model: "acme-thermo-2", firmwareVersion: "2.4.1", serialNumber: "SN-000042" },
});
const password = encodeConnectProof({ keyPair, nonce: new Uint8Array(16).fill(8), timestamp: NOW });
const creds = { clientId: deviceId, username: deviceId, password };
const parts = parseSign1(requestFrame, MAX_REQUEST_BYTES);
if (!parts.ok) throw parts.error;
const tbs = sigStructure(parts.value.protectedBytes, parts.value.payload);
const { signature } = parts.value;
const pk = keyPair.publicKey;

const gateway = createGatewaySigner(new Uint8Array(32).fill(2));
const nodeKey = createPrivateKey(gateway.privateKeyPem);
/** The gateway's signer as it was: node:crypto with a KeyObject. */
const nodeSigner: GatewaySigner = {
  publicKey: gateway.publicKey,
  sign(reply) {
    const payload = buildReplyPayload(reply);
    const sig = nodeSign(null, sigStructure(EDDSA_PROTECTED_HEADER, payload), nodeKey);
    return encodeSign1(EDDSA_PROTECTED_HEADER, payload, sig);
  },
};
const reply: EnrollReply = {
  version: 1,
  requestId: "0123456789abcdef",
  deviceId,
  status: "approved",
  deviceUUID: "6f1c2a8e-4b7d-4e2a-9c3f-0a1b2c3d4e5f",
  timestamp: NOW + 1,
};
const replyTbs = sigStructure(EDDSA_PROTECTED_HEADER, buildReplyPayload(reply));
if (!opensslVerify(tbs, signature, pk) || !sodiumVerify(tbs, signature, pk))
  throw new Error("does not verify");
if (Buffer.compare(encodeEnrollReply(reply, gateway), encodeEnrollReply(reply, nodeSigner)) !== 0)
  throw new Error("libsodium and node:crypto replies differ");

header("@devreg/protocol gateway Ed25519: node:crypto vs libsodium");
console.log(`request Sig_structure ${tbs.length} bytes, reply Sig_structure ${replyTbs.length} bytes\n`);
const v0 = bench("verify     node:crypto (JWK import + verify)", () => opensslVerify(tbs, signature, pk));
const v1 = bench("verify     libsodium", () => sodiumVerify(tbs, signature, pk));
const s0 = bench("sign       node:crypto (KeyObject)", () => nodeSign(null, replyTbs, nodeKey));
const s1 = bench("sign       libsodium (sodium_malloc key)", () => gateway.signBytes(replyTbs));
console.log(
  `\n2 verify + 1 sign: node:crypto ${(2 * v0 + s0).toFixed(0)} µs, libsodium ${(2 * v1 + s1).toFixed(0)} µs CPU\n`,
);
const e0 = bench("CONNECT + request + reply, node:crypto", (i) => {
  const proof = decodeConnectProofWithOpenssl(creds, { nowSeconds: NOW });
  const request = decodeEnrollRequestWithOpenssl(requestFrame, { nowSeconds: NOW });
  return proof.ok && request.ok && encodeEnrollReply({ ...reply, timestamp: NOW + i }, nodeSigner);
});
const e1 = bench("CONNECT + request + reply, libsodium", (i) => {
  const proof = decodeConnectProof(creds, { nowSeconds: NOW });
  const request = decodeEnrollRequest(requestFrame, { nowSeconds: NOW });
  return proof.ok && request.ok && encodeEnrollReply({ ...reply, timestamp: NOW + i }, gateway);
});
console.log(`\nper enrollment the gateway's protocol checks save ${(e0 - e1).toFixed(0)} µs CPU`);
