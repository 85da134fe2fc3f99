/**
 * Micro-benchmark of the four hot paths (not a test): `npm run bench` in protocol/.
 *   encode+sign   device side, tweetnacl       (encodeEnrollRequest)
 *   decode+verify gateway side, node:crypto    (decodeEnrollRequest)
 *   reply sign    gateway side, node:crypto    (encodeEnrollReply)
 *   reply verify  device side, tweetnacl       (verifyEnrollReply)
 * Plus the strict decode alone, to show what the codec costs next to the signature.
 * Each case runs for a fixed time after a warm-up; results are ops/s on one core.
 */
import { loadavg } from "node:os";
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

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
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

let sink = 0;
/**
 * Reports wall-clock ops/s and ops per CPU-second of this process. On a shared machine the
 * CPU figure is the better estimate of one core's capacity; on an idle one they agree.
 */
function bench(name: string, fn: (i: number) => unknown): number {
  const warmUntil = performance.now() + 200;
  for (let i = 0; performance.now() < warmUntil; i++) fn(i);
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) sink ^= fn(ops++) ? 1 : 0;
  }
  const wall = (performance.now() - start) / 1000;
  const cpuUs = process.cpuUsage(cpu0);
  const cpu = (cpuUs.user + cpuUs.system) / 1e6;
  const perSec = ops / wall;
  const perCpuSec = ops / cpu;
  console.log(
    `${name.padEnd(44)} ${Math.round(perSec).toString().padStart(9)} ops/s wall ${Math.round(perCpuSec).toString().padStart(9)} ops/CPU-s ${(1e6 / perCpuSec).toFixed(1).padStart(9)} µs CPU/op`,
  );
  return perSec;
}

console.log(
  `@devreg/protocol codec benchmark — node ${process.version}, ${SECONDS}s per case, load ${loadavg()[0]!.toFixed(2)}`,
);
console.log(
  `request frame ${requestFrame.length} bytes (limit ${MAX_REQUEST_BYTES}), reply frame ${replyFrame.length} bytes\n`,
);

bench("encode+sign request   (device, tweetnacl)", (i) =>
  encodeEnrollRequest({ keyPair, requestId: `r${i}`, nonce, timestamp: NOW, metadata }),
);
bench(
  "decode+verify request (gateway, node:crypto)",
  () => decodeEnrollRequest(requestFrame, { nowSeconds: NOW }).ok,
);
bench("reply sign            (gateway, node:crypto)", (i) =>
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
if (sink === 42) console.log("");
