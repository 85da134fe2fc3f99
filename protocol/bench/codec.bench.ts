/**
 * Micro-benchmark of the four hot paths (not a test): `npm run bench` in protocol/.
 *   encode+sign   device side, tweetnacl       (encodeEnrollRequest)
 *   decode+verify gateway side, libsodium      (decodeEnrollRequest)
 *   reply sign    gateway side, libsodium      (encodeEnrollReply)
 *   reply verify  device side, tweetnacl       (verifyEnrollReply)
 * Plus the strict decode alone, to show what the codec costs next to the signature.
 * Each case runs for a fixed time after a warm-up; results are ops/s on one core.
 */
import { parseSign1 } from "../src/cose-sign1.ts";
import {
  createGatewaySigner,
  decodeEnrollRequest,
  type EnrollReply,
  encodeEnrollReply,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  MAX_REQUEST_BYTES,
  ReplayGuard,
  verifyEnrollReply,
} from "../src/index.ts";
import { parseRequestPayload } from "../src/request-payload.ts";
import { bench, header } from "./harness.ts";

const NOW = 1_700_000_000;

const keyPair = generateDeviceKeyPair(new Uint8Array(32).fill(1));
const metadata = {
  model: "acme-thermo-2",
  firmwareVersion: "2.4.1",
  hardwareRevision: "rev-B",
  serialNumber: "SN-000042",
};
const nonce = new Uint8Array(16).fill(7);
const requestFrame = encodeEnrollRequest({
  keyPair,
  requestId: "0123456789abcdef",
  nonce,
  timestamp: NOW,
  metadata,
});
const gateway = createGatewaySigner(new Uint8Array(32).fill(2));
const decoded = decodeEnrollRequest(requestFrame, { nowSeconds: NOW });
if (!decoded.ok) throw decoded.error;
const reply: EnrollReply = {
  version: 1,
  requestId: "0123456789abcdef",
  deviceId: decoded.value.deviceId,
  status: "approved",
  deviceUUID: "6f1c2a8e-4b7d-4e2a-9c3f-0a1b2c3d4e5f",
  message: "welcome",
  timestamp: NOW + 1,
};
const replyFrame = encodeEnrollReply(reply, gateway);
if (!verifyEnrollReply(replyFrame, gateway.publicKey).ok) throw new Error("reply does not verify");

header("@devreg/protocol codec benchmark");
console.log(
  `request frame ${requestFrame.length} bytes (limit ${MAX_REQUEST_BYTES}), reply frame ${replyFrame.length} bytes\n`,
);

bench("encode+sign request   (device, tweetnacl)", (i) =>
  encodeEnrollRequest({ keyPair, requestId: `r${i}`, nonce, timestamp: NOW, metadata }),
);
bench(
  "decode+verify request (gateway, libsodium)",
  () => decodeEnrollRequest(requestFrame, { nowSeconds: NOW }).ok,
);
bench("reply sign            (gateway, libsodium)", (i) =>
  encodeEnrollReply({ ...reply, timestamp: NOW + i }, gateway),
);
bench("reply verify          (device, tweetnacl)", () => verifyEnrollReply(replyFrame, gateway.publicKey).ok);
console.log("");
bench("strict decode only, no signature (gateway)", () => {
  const env = parseSign1(requestFrame, MAX_REQUEST_BYTES);
  return env.ok && parseRequestPayload(env.value.payload).ok;
});
const guard = new ReplayGuard();
const nonces = Array.from({ length: 1024 }, (_, i) =>
  Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j) & 0xff),
);
bench("ReplayGuard.check", (i) =>
  guard.check(decoded.value.deviceId, nonces[i & 1023]!, NOW + Math.floor(i / 1000)),
);
