import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const SRC = new URL("./", import.meta.url);
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm;

/** Module specifiers reachable from `entry` through relative imports, plus the bare ones met. */
function importGraph(entry: string): { files: Set<string>; external: Set<string> } {
  const files = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(new URL(file, SRC), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith("./")) visit(spec.slice(2));
      else external.add(spec);
    }
  };
  visit(entry);
  return { files, external };
}

describe("two independent Ed25519 implementations", () => {
  it("[PROTO-1] the device side reaches tweetnacl and cbor-x only, never node:crypto", () => {
    const { files, external } = importGraph("device.ts");
    expect([...external].sort()).toEqual(["cbor-x", "tweetnacl"]);
    expect(files.has("gateway.ts")).toBe(false);
  });

  it("[PROTO-1] the gateway side reaches libsodium, node:crypto and cbor-x only, never tweetnacl", () => {
    const { files, external } = importGraph("gateway.ts");
    // node:module: libsodium is loaded on first use (createRequire), so device code never needs the addon.
    expect([...external].sort()).toEqual(["cbor-x", "node:crypto", "node:module", "sodium-native"]);
    expect(files.has("device.ts")).toBe(false);
  });
});

describe("SPEC.md traceability", () => {
  const spec = readFileSync(new URL("../SPEC.md", SRC), "utf8");
  const defined = new Set([...spec.matchAll(/\*\*\[(PROTO-\d+)\]\*\*/g)].map((m) => m[1]!));
  const tests = readdirSync(SRC)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => readFileSync(new URL(f, SRC), "utf8"))
    .join("\n");
  // Test names: first string argument of it()/describe(), including template literals.
  const names = [...tests.matchAll(/\b(?:it|describe)\(\s*(["`])((?:\\.|(?!\1).)*)\1/g)].map((m) => m[2]!);
  const cited = new Set(names.flatMap((n) => [...n.matchAll(/PROTO-\d+/g)].map((m) => m[0])));

  it("[PROTO-36] defines requirements PROTO-1..N without gaps", () => {
    const nums = [...defined].map((id) => Number(id.slice(6))).sort((a, b) => a - b);
    expect(nums.length).toBeGreaterThan(30);
    expect(nums).toEqual(nums.map((_, i) => i + 1));
  });

  it("[PROTO-36] every requirement has a test whose name cites it, and tests cite only real ones", () => {
    expect([...defined].filter((id) => !cited.has(id))).toEqual([]);
    expect([...cited].filter((id) => !defined.has(id))).toEqual([]);
  });
});
