import { describe, expect, it } from "vitest";
import { buildProgram, commandOf } from "./program.ts";

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
