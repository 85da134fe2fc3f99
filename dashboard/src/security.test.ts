import { describe, expect, it } from "vitest";
import { parsePairingChange } from "./actions.ts";
import { hostAllowed, originAllowed } from "./server.ts";
import { cookieValue, sameSecret } from "./sessions.ts";

describe("request checks", () => {
  it("serves loopback names and the public origin's host only (DNS rebinding)", () => {
    expect(hostAllowed("127.0.0.1:8090", undefined)).toBe(true);
    expect(hostAllowed("localhost:1", undefined)).toBe(true);
    expect(hostAllowed("[::1]:8090", undefined)).toBe(true);
    expect(hostAllowed("evil.example:8090", undefined)).toBe(false);
    expect(hostAllowed("127.0.0.1.evil.example", undefined)).toBe(false);
    expect(hostAllowed(undefined, undefined)).toBe(false);
    expect(hostAllowed("devreg.example.com", "https://devreg.example.com")).toBe(true);
  });

  it("[CSRF] takes writes only from the page's own origin", () => {
    expect(originAllowed("http://127.0.0.1:8090", "127.0.0.1:8090", undefined)).toBe(true);
    expect(originAllowed("http://127.0.0.1:9999", "127.0.0.1:8090", undefined)).toBe(false);
    expect(originAllowed("http://evil.example", "127.0.0.1:8090", undefined)).toBe(false);
    expect(originAllowed(undefined, "127.0.0.1:8090", undefined)).toBe(false);
    expect(originAllowed("null", "127.0.0.1:8090", undefined)).toBe(false);
    expect(originAllowed("https://devreg.example.com", "devreg.example.com", "https://devreg.example.com")).toBe(true);
  });

  it("reads one cookie and compares secrets in full", () => {
    expect(cookieValue("a=1; devreg_dashboard=xyz; b=2", "devreg_dashboard")).toBe("xyz");
    expect(cookieValue("xdevreg_dashboard=1", "devreg_dashboard")).toBeUndefined();
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("ab", "abc")).toBe(false);
    expect(sameSecret(undefined, "abc")).toBe(false);
  });

  it("parses a pairing change strictly", () => {
    expect(parsePairingChange({ enabled: true, duration: "10m" })).toEqual({ enabled: true, duration: "10m" });
    expect(() => parsePairingChange({ enabled: "true" })).toThrow(/enabled/);
    expect(() => parsePairingChange({ enabled: true, duration: 600 })).toThrow(/duration/);
    expect(() => parsePairingChange(null)).toThrow();
  });
});
