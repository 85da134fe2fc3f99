import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeKubeconfig } from "../test-support/kubeconfig-file.ts";
import { resolveKubeConfig } from "./kubeconfig.ts";

describe("resolveKubeConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "devreg-kc-"));
  const a = writeKubeconfig(join(dir, "a"), "http://127.0.0.1:1");
  const b = writeKubeconfig(join(dir, "b"), "http://127.0.0.1:2");
  const missing = join(dir, "missing");

  it("takes the first existing file of $KUBECONFIG's colon-separated list", () => {
    const r = resolveKubeConfig(undefined, `${missing}:${b}:${a}`);
    expect(r.origin).toBe(b);
    expect(r.kc.getCurrentCluster()?.server).toBe("http://127.0.0.1:2");
  });

  it("an explicit path is one file and wins over the environment's list", () => {
    expect(resolveKubeConfig(a, b).origin).toBe(a);
    expect(() => resolveKubeConfig(`${a}:${b}`)).toThrow(/does not exist/);
  });

  it("a list naming no existing file is refused, naming it", () => {
    expect(() => resolveKubeConfig(undefined, `${missing}:${missing}2`)).toThrow(
      expect.objectContaining({ code: "E_KUBECONFIG", message: expect.stringContaining(missing) }),
    );
  });
});
