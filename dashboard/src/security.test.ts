import { describe, expect, it } from "vitest";
import { KubeError } from "@devreg/kube";
import { explainForbidden, parsePairingChange } from "./actions.ts";
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

  it("takes the options of `devreg pairing on`: mode, a budget and a selector (auto windows only)", () => {
    expect(parsePairingChange({ enabled: true, duration: "2m", mode: "auto", maxDevices: 2, selector: 'model == "x"' })).toEqual({
      enabled: true,
      duration: "2m",
      mode: "auto",
      maxDevices: 2,
      selector: 'model == "x"',
    });
    expect(parsePairingChange({ enabled: true, mode: "manual", selector: "  " })).toEqual({ enabled: true, mode: "manual" });
    expect(parsePairingChange({ enabled: false, maxDevices: 3 })).toEqual({ enabled: false });
    expect(() => parsePairingChange({ enabled: true, mode: "Manual" })).toThrow(/mode/);
    for (const maxDevices of [0, -1, 1.5, "2", 1e9]) expect(() => parsePairingChange({ enabled: true, maxDevices })).toThrow(/budget/);
    expect(() => parsePairingChange({ enabled: true, selector: 3 })).toThrow(/selector/);
    // As `devreg pairing on --manual --max-devices 2` refuses: the operator ignores both in manual mode.
    expect(() => parsePairingChange({ enabled: true, mode: "manual", maxDevices: 2 })).toThrow(/manual mode/);
    expect(() => parsePairingChange({ enabled: true, mode: "manual", selector: "true" })).toThrow(/manual mode/);
  });

  it("tells a refused user who was refused, for what, and what it needs, then the API server's words", () => {
    const apiserver = 'deviceregistrations.devices.example.com "dev-a" is forbidden: User "bob" cannot patch resource';
    const e = explainForbidden(new KubeError("E_KUBE_FORBIDDEN", `PATCH /apis/x/dev-a: 403 ${apiserver}`, 403), "bob", "approve", "dev-a") as KubeError;
    expect([e.code, e.status]).toEqual(["E_KUBE_FORBIDDEN", 403]);
    expect(e.message).toMatch(/^Not allowed: bob may not approve dev-a\. .*verbs patch and approve .*devreg-admin.*The API server said: /);
    expect(e.message.endsWith(`The API server said: ${apiserver}`)).toBe(true);
    const other = new KubeError("E_KUBE_CONFLICT", "conflict", 409);
    expect(explainForbidden(other, "bob", "deny", "dev-a")).toBe(other);
  });
});
