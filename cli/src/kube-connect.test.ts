import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { writeKubeconfig } from "../../kube/test-support/kubeconfig-file.ts";
import { givenKubeconfig } from "./kube-connect.ts";

/** The subcommand as its action sees it, after parsing `args` (global options first). */
function command(args: string[]): Command {
  let got: Command | undefined;
  const program = new Command().option("--kubeconfig <path>");
  program.command("x").action((_o, c: Command) => {
    got = c;
  });
  program.parse(["node", "devreg", ...args, "x"]);
  if (!got) throw new Error("not parsed");
  return got;
}

describe("givenKubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "devreg-cli-kc-"));
  const second = writeKubeconfig(join(dir, "second"), "http://127.0.0.1:2");

  it("gives a component the one file a $KUBECONFIG list names, not the list", () => {
    expect(givenKubeconfig(command([]), { kubeconfig: `${join(dir, "none")}:${second}` })).toBe(second);
  });

  it("--kubeconfig wins; neither given: none", () => {
    expect(givenKubeconfig(command(["--kubeconfig", "/flag"]), { kubeconfig: second })).toBe("/flag");
    expect(givenKubeconfig(command([]), {})).toBeUndefined();
  });
});
