import type { ConfigMap } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { parsePairing, parseRfc3339 } from "./pairing.ts";

const NOW = new Date("2025-06-01T12:00:00Z");
const cm = (data?: Record<string, string>): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "devreg-pairing", namespace: "ns" },
  data,
});

describe("parsePairing", () => {
  it("is closed when the ConfigMap is missing (off by default)", () => {
    expect(parsePairing(undefined, NOW)).toMatchObject({ open: false, code: "PairingConfigMissing" });
  });

  it("opens on enabled=true without expiry", () => {
    const s = parsePairing(cm({ enabled: "true" }), NOW);
    expect(s).toMatchObject({ open: true, code: "PairingWindowOpen" });
    expect(s.expiresAt).toBeUndefined();
    expect(s.reason).toContain("no expiry");
  });

  it("opens until expiresAt, and closes at that instant exactly", () => {
    const open = parsePairing(cm({ enabled: "true", expiresAt: "2025-06-01T12:10:00Z" }), NOW);
    expect(open).toMatchObject({ open: true, code: "PairingWindowOpen" });
    expect(open.expiresAt?.toISOString()).toBe("2025-06-01T12:10:00.000Z");
    const atExpiry = parsePairing(cm({ enabled: "true", expiresAt: "2025-06-01T12:00:00Z" }), NOW);
    expect(atExpiry).toMatchObject({ open: false, code: "PairingWindowExpired" });
    const justBefore = parsePairing(cm({ enabled: "true", expiresAt: "2025-06-01T12:00:00.001Z" }), NOW);
    expect(justBefore.open).toBe(true);
  });

  it("accepts RFC 3339 offsets and fractions", () => {
    const s = parsePairing(cm({ enabled: "true", expiresAt: "2025-06-01T14:30:00.5+02:00" }), NOW);
    expect(s.open).toBe(true);
    expect(s.expiresAt?.toISOString()).toBe("2025-06-01T12:30:00.500Z");
  });

  it("is closed on enabled=false, even with a future expiresAt", () => {
    expect(parsePairing(cm({ enabled: "false", expiresAt: "2030-01-01T00:00:00Z" }), NOW)).toMatchObject({
      open: false,
      code: "PairingDisabled",
    });
  });

  const malformed: Array<[string, Record<string, string> | undefined]> = [
    ["no data", undefined],
    ["enabled missing", { expiresAt: "2030-01-01T00:00:00Z" }],
    ["enabled=yes", { enabled: "yes" }],
    ["enabled=True", { enabled: "True" }],
    ["enabled=1", { enabled: "1" }],
    ["expiresAt not a date", { enabled: "true", expiresAt: "tomorrow" }],
    ["expiresAt without zone", { enabled: "true", expiresAt: "2030-01-01T00:00:00" }],
    ["expiresAt Feb 30", { enabled: "true", expiresAt: "2030-02-30T00:00:00Z" }],
    ["expiresAt epoch seconds", { enabled: "true", expiresAt: "1893456000" }],
  ];
  for (const [what, data] of malformed) {
    it(`fails closed when malformed: ${what}`, () => {
      const s = parsePairing(cm(data), NOW);
      expect(s).toMatchObject({ open: false, code: "PairingConfigInvalid" });
      expect(s.reason).toMatch(/malformed: .+; pairing is off/);
    });
  }

  it("ignores unknown keys", () => {
    expect(parsePairing(cm({ enabled: "true", note: "lab bench" }), NOW).open).toBe(true);
  });
});

describe("parseRfc3339", () => {
  it("rejects out-of-range fields that Date.parse would roll over", () => {
    expect(parseRfc3339("2024-02-29T00:00:00Z")).toBeDefined();
    expect(parseRfc3339("2025-02-29T00:00:00Z")).toBeUndefined();
    expect(parseRfc3339("2025-13-01T00:00:00Z")).toBeUndefined();
    expect(parseRfc3339("2025-01-01T24:00:00Z")).toBeUndefined();
    expect(parseRfc3339("2025-01-01t10:00:00z")?.toISOString()).toBe("2025-01-01T10:00:00.000Z");
  });
});
