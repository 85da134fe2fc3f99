// SCRATCH (not for commit): what the fleet does once requests can be signed with node:crypto.
import { createPrivateKey, sign } from "node:crypto";
import { EDDSA_PROTECTED_HEADER, encodeSign1, sigStructure } from "../../protocol/src/cose-sign1.ts";
import { buildRequestPayload } from "../../protocol/src/request-payload.ts";
import { nodeCrypto } from "../src/device-crypto.ts";
const P = Buffer.from("302e020100300506032b657004220420", "hex");
Object.assign(nodeCrypto, {
  encodeRequest(input: Parameters<typeof nodeCrypto.encodeRequest>[0]) {
    const payload = buildRequestPayload({ ...input, publicKey: input.keyPair.publicKey });
    const key = createPrivateKey({
      key: Buffer.concat([P, input.keyPair.secretKey.subarray(0, 32)]),
      format: "der",
      type: "pkcs8",
    });
    const sig = new Uint8Array(sign(null, sigStructure(EDDSA_PROTECTED_HEADER, payload), key));
    return encodeSign1(EDDSA_PROTECTED_HEADER, payload, sig);
  },
});
await import("./fleet-capacity.bench.ts");
