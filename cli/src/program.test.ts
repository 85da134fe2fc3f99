import { afterEach, describe, expect, it, vi } from "vitest";
import { buildProgram, commandOf, runCli } from "./program.ts";

const ALL = ["cluster", "gateway", "operator", "pairing", "devices", "demo", "sim", "dashboard"];

describe("the devreg program", () => {
  it("finds the command past global options", () => {
    expect(commandOf(["pairing", "on"])).toBe("pairing");
    expect(commandOf(["--kubeconfig", "/k", "devices", "list"])).toBe("devices");
    expect(commandOf(["--kubeconfig=/k", "-h"])).toBeUndefined();
    expect(commandOf([])).toBeUndefined();
  });

  it("loads only the named command, and every command for help or an unknown name", async () => {
    const names = async (args?: string[]) => (await buildProgram(args)).commands.map((c) => c.name());
    expect(await names(["pairing", "status"])).toEqual(["pairing"]);
    expect(await names(["--help"])).toEqual(ALL);
    expect(await names(["pairnig"])).toEqual(ALL);
    expect(await names()).toEqual(ALL);
  });
});

describe("exit codes", () => {
  afterEach(() => vi.restoreAllMocks());

  /** Runs `devreg ...args` in-process with an empty environment; every case fails before any I/O. */
  async function exitCode(...args: string[]): Promise<number | undefined> {
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    return runCli(["node", "devreg", ...args], {});
  }

  it("0 for help, 2 for every usage error of every command (commander's own and an option's value)", async () => {
    expect(await exitCode("--help")).toBe(0);
    expect(await exitCode("pairing", "--help")).toBe(0);
    const usage = [
      [],
      ["pairnig"],
      ["--bogus", "devices", "list"],
      ["cluster", "up", "--ready-timeout", "soon"],
      ["cluster", "nope"],
      ["gateway", "--mqtt-port", "70000"],
      ["gateway", "--decision-timeout", "soon"],
      ["gateway", "--max-writes", "0"],
      ["gateway", "--tls-cert", "/c.pem"],
      ["gateway", "--config", "/definitely/not/here.yaml"],
      ["operator", "--bogus"],
      ["pairing", "on", "--for", "5x"],
      ["pairing", "on", "--for", "500ms"],
      ["pairing", "on", "--max-devices", "0"],
      ["pairing", "on", "--manual", "--max-devices", "3"],
      ["pairing", "on", "--selector", "model =="],
      ["pairing", "status", "--namespace"],
      ["devices", "list", "--phase", "Nope"],
      ["devices", "approve"],
      ["devices", "approve", "dev-x", "--timeout", "never"],
      ["devices", "allow"],
      ["devices", "allow", "--public-key", "AAAA"],
      ["demo", "--devices", "0"],
      ["demo", "--rate", "fast"],
      ["demo", "--mqtt-port", "x"],
      ["sim", "--count", "0", "--gateway-key", "AAAA"],
      ["dashboard", "--port", "-1"],
      ["dashboard", "--gateway-url", "not a url"],
      ["dashboard", "--login", "magic"],
    ];
    for (const args of usage) expect([args, await exitCode(...args)]).toEqual([args, 2]);
  });
});
