import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetSummary } from "@devreg/firmware-sim";
import { createGatewaySigner } from "@devreg/protocol";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type FakeGateway, startFakeGateway } from "../../../firmware-sim/test/support/fake-gateway.ts";
import { CliError, UsageError } from "../errors.ts";
import { parseDurationMs } from "../options.ts";
import { runCli } from "../program.ts";
import { parseGatewayKey } from "./gateway-key.ts";
import { registerSim } from "./sim.ts";
import { summaryTable } from "./sim-output.ts";

let dir: string;
let gateway: FakeGateway | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cli-sim-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  await gateway?.close();
  gateway = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("--gateway-key", () => {
  const key = createGatewaySigner().publicKey;
  const b64 = Buffer.from(key).toString("base64");

  it("takes base64, base64url, hex and @file (text, PEM, raw)", async () => {
    expect(parseGatewayKey(b64)).toEqual(key);
    expect(parseGatewayKey(Buffer.from(key).toString("base64url"))).toEqual(key);
    expect(parseGatewayKey(Buffer.from(key).toString("hex"))).toEqual(key);
    await writeFile(join(dir, "k.txt"), `${b64}\n`);
    expect(parseGatewayKey(`@${join(dir, "k.txt")}`)).toEqual(key);
    await writeFile(join(dir, "k.bin"), key);
    expect(parseGatewayKey(`@${join(dir, "k.bin")}`)).toEqual(key);
    const { publicKey } = generateKeyPairSync("ed25519");
    const pem = publicKey.export({ format: "pem", type: "spki" }).toString();
    await writeFile(join(dir, "k.pem"), pem);
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
    expect(parseGatewayKey(`@${join(dir, "k.pem")}`)).toEqual(new Uint8Array(raw));
  });

  it("refuses anything else with one line, as a usage error", () => {
    for (const bad of ["nope", "AAAA", `${b64}x`, "@/definitely/not/here"]) {
      expect(() => parseGatewayKey(bad)).toThrow(UsageError);
    }
    expect(() => parseGatewayKey("AAAA")).toThrow(
      /^--gateway-key must be the gateway's 32-byte Ed25519 public key/,
    );
    expect(() => parseGatewayKey("@/definitely/not/here")).toThrow(
      "cannot read --gateway-key file /definitely/not/here: ENOENT",
    );
  });
});

describe("--timeout", () => {
  it("parses units, bare seconds, and refuses junk", () => {
    expect(parseDurationMs("60s", "--timeout")).toBe(60_000);
    expect(parseDurationMs("2m", "--timeout")).toBe(120_000);
    expect(parseDurationMs("1500ms", "--timeout")).toBe(1500);
    // One grammar with `pairing on --for`: compound durations work here too.
    expect(parseDurationMs("1h30m", "--timeout")).toBe(5_400_000);
    expect(() => parseDurationMs("5x", "--timeout")).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(parseDurationMs("45", "--timeout")).toBe(45_000);
    expect(() => parseDurationMs("5x", "--timeout")).toThrow(CliError);
    expect(() => parseDurationMs("0s", "--timeout")).toThrow(/greater than 0/);
  });
});

/** Runs `devreg sim ...` in-process; returns what went to stdout. */
async function sim(...args: string[]): Promise<string> {
  const out: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    out.push(`${a.join(" ")}\n`);
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  const program = new Command("devreg").exitOverride();
  registerSim(program);
  await program.parseAsync(["node", "devreg", "sim", ...args]);
  return out.join("");
}

describe("devreg sim", () => {
  it("--json prints the summary on stdout and leaves exit 0 when all devices end final", async () => {
    gateway = await startFakeGateway();
    const key = Buffer.from(gateway.publicKey).toString("base64");
    const out = await sim(
      "--count",
      "3",
      "--rate",
      "100",
      "--mqtt",
      gateway.url,
      "--gateway-key",
      key,
      "--json",
    );
    const summary = JSON.parse(out) as FleetSummary;
    expect(summary.outcomes.enrolled).toBe(3);
    expect(process.exitCode).toBeUndefined();
    expect(summaryTable(summary)).toMatch(/enrolled 3 {2}rejected 0/);
  });

  it("exits 1 when a device does not end final", async () => {
    gateway = await startFakeGateway({ decide: () => "drop" });
    const key = Buffer.from(gateway.publicKey).toString("base64");
    const out = await sim("--count", "1", "--mqtt", gateway.url, "--gateway-key", key, "--timeout", "300ms");
    expect(out).toMatch(/failed: deadline/);
    expect(process.exitCode).toBe(1);
  });

  it("says the gateway is unreachable", async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const key = Buffer.from(createGatewaySigner().publicKey).toString("base64");
    await expect(sim("--mqtt", `mqtt://127.0.0.1:${port}`, "--gateway-key", key)).rejects.toThrow(
      new CliError(`cannot reach gateway at mqtt://127.0.0.1:${port}: ECONNREFUSED`),
    );
  });

  it("says the replies do not verify against a wrong pinned key", async () => {
    gateway = await startFakeGateway();
    const wrong = Buffer.from(createGatewaySigner().publicKey).toString("base64");
    const err = await sim("--count", "2", "--mqtt", gateway.url, "--gateway-key", wrong).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(
      /^gateway replies do not verify against the pinned key .*; check --gateway-key/,
    );
  });

  it("says which identity file is corrupt", async () => {
    gateway = await startFakeGateway();
    const key = Buffer.from(gateway.publicKey).toString("base64");
    await writeFile(join(dir, "device-00000.json"), "garbage");
    const err = await sim("--mqtt", gateway.url, "--gateway-key", key, "--identities", dir).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(
      new RegExp(`^identity file ${dir}/device-00000.json is corrupt: not JSON`),
    );
  });

  it("refuses bad numbers, crypto names and URLs before doing anything", async () => {
    const key = Buffer.from(createGatewaySigner().publicKey).toString("base64");
    await expect(sim("--count", "0", "--gateway-key", key)).rejects.toThrow(
      /^--count must be a whole number >= 1/,
    );
    await expect(sim("--rate", "fast", "--gateway-key", key)).rejects.toThrow(/^--rate must be a number > 0/);
    await expect(sim("--crypto", "openssl", "--gateway-key", key)).rejects.toThrow(
      /^--crypto must be tweetnacl or node/,
    );
    await expect(sim("--mqtt", "127.0.0.1:1883", "--gateway-key", key)).rejects.toThrow(
      /^--mqtt must be a URL/,
    );
  });

  it("exits 2 on every usage error (a bad value, an unknown or missing option, a conflict), 1 on a failure", async () => {
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const key = Buffer.from(createGatewaySigner().publicKey).toString("base64");
    const code = (...args: string[]) => runCli(["node", "devreg", "sim", ...args], {});
    expect(await code("--count", "0", "--gateway-key", key)).toBe(2);
    expect(await code("--timeout", "soon", "--gateway-key", key)).toBe(2);
    expect(await code("--crypto", "openssl", "--gateway-key", key)).toBe(2);
    expect(await code("--gateway-key", "AAAA")).toBe(2);
    expect(await code("--bogus", "--gateway-key", key)).toBe(2);
    expect(await code("--count")).toBe(2);
    expect(await code()).toBe(2); // --gateway-key is required
    // The simulator's own refusal of an option (E_BAD_OPTION) is a usage error too.
    expect(
      await code("--mqtt", "mqtt://192.0.2.1:1883", "--source-addresses", "2", "--gateway-key", key),
    ).toBe(2);
    await writeFile(join(dir, "device-00000.json"), "garbage");
    expect(await code("--mqtt", "mqtt://127.0.0.1:1", "--identities", dir, "--gateway-key", key)).toBe(1);
  });
});
