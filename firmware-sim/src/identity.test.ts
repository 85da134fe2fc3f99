import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeCrypto, tweetnaclCrypto } from "./device-crypto.ts";
import { SimError } from "./errors.ts";
import { identityFileName, loadFleetIdentities } from "./fleet-identities.ts";
import {
  createIdentity,
  loadIdentity,
  loadOrCreateIdentity,
  saveIdentity,
  serializeIdentity,
} from "./identity.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fsim-id-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("identity file", () => {
  it("is created on first boot with mode 0600 and reloaded unchanged on reboot", async () => {
    const path = join(dir, "mcu.json");
    const first = await loadOrCreateIdentity(path, tweetnaclCrypto);
    expect(first.deviceId).toBe(deviceIdFromPublicKey(first.publicKey));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file).toMatchObject({ version: 1, deviceId: first.deviceId, deviceUUID: null });
    expect(Buffer.from(file.seed, "base64")).toHaveLength(32);

    first.deviceUUID = "01234567-89ab-4cde-8f01-23456789abcd";
    await saveIdentity(path, first);
    const rebooted = await loadOrCreateIdentity(path, tweetnaclCrypto);
    expect(rebooted.deviceId).toBe(first.deviceId);
    expect(Buffer.from(rebooted.seed)).toEqual(Buffer.from(first.seed));
    expect(rebooted.deviceUUID).toBe(first.deviceUUID);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["mcu.json"]); // no temp files left behind
  });

  it("returns null for a missing file", async () => {
    expect(await loadIdentity(join(dir, "none.json"), nodeCrypto)).toBeNull();
  });

  const good = () => JSON.parse(serializeIdentity(createIdentity(nodeCrypto)));
  const other = () => JSON.parse(serializeIdentity(createIdentity(nodeCrypto)));
  const corrupt: Array<[string, () => string, RegExp]> = [
    ["truncated JSON", () => serializeIdentity(createIdentity(nodeCrypto)).slice(0, 40), /not JSON/],
    ["an array", () => "[]", /not a JSON object/],
    ["a wrong version", () => JSON.stringify({ ...good(), version: 2 }), /unsupported version 2/],
    ["a short seed", () => JSON.stringify({ ...good(), seed: "AAAA" }), /seed is 3 bytes/],
    ["a non-base64 key", () => JSON.stringify({ ...good(), publicKey: "!!" }), /publicKey is not base64/],
    [
      "a public key from another seed",
      () => JSON.stringify({ ...good(), publicKey: other().publicKey }),
      /does not belong/,
    ],
    [
      "a wrong deviceId",
      () => JSON.stringify({ ...good(), deviceId: other().deviceId }),
      /deviceId does not match/,
    ],
    ["a bad UUID", () => JSON.stringify({ ...good(), deviceUUID: "nope" }), /deviceUUID is not a UUID/],
  ];
  for (const [what, text, why] of corrupt) {
    it(`refuses ${what} with E_IDENTITY_CORRUPT`, async () => {
      const path = join(dir, "bad.json");
      const content = text();
      await writeFile(path, content);
      const err = await loadOrCreateIdentity(path, tweetnaclCrypto).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SimError);
      expect(err).toMatchObject({ code: "E_IDENTITY_CORRUPT" });
      expect((err as Error).message).toMatch(new RegExp(`^identity file ${path} is corrupt: `));
      expect((err as Error).message).toMatch(why);
      expect(await readFile(path, "utf8")).toBe(content); // a corrupt flash is never silently replaced
    });
  }

  it("reports an unreadable location as E_IDENTITY_IO", async () => {
    const err = await saveIdentity(join(dir, "missing-dir", "x.json"), createIdentity(nodeCrypto)).catch(
      (e) => e,
    );
    expect(err).toMatchObject({ code: "E_IDENTITY_IO" });
  });

  it("never shows the seed when logged or stringified", () => {
    const id = createIdentity(nodeCrypto);
    const seedB64 = Buffer.from(id.seed).toString("base64");
    const seedHex = Buffer.from(id.seed).toString("hex");
    for (const text of [inspect(id, { depth: 5 }), JSON.stringify(id), String(id)]) {
      expect(text).not.toContain(seedB64);
      expect(text).not.toContain(seedHex);
      expect(text).not.toMatch(/seed/);
    }
  });
});

describe("fleet identities", () => {
  it("a corrupt file fails the load only once no other file is still being written", async () => {
    await writeFile(join(dir, identityFileName(3)), '{"version":1}');
    const err = await loadFleetIdentities(dir, 200, nodeCrypto, 16).catch((e) => e);
    expect(err).toMatchObject({ code: "E_IDENTITY_CORRUPT" });
    const atRejection = (await readdir(dir)).sort();
    await new Promise((r) => setTimeout(r, 100));
    expect((await readdir(dir)).sort()).toEqual(atRejection);
    // It stopped early: not all 200 were created.
    expect(atRejection.length).toBeLessThan(200);
  });
});
