import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveKubeConfig } from "@devreg/kube";
import { readEnv } from "@devreg/runtime";
import { describe, expect, it } from "vitest";
import { writeKubeconfig } from "../../kube/test-support/kubeconfig-file.ts";
import { defaultGatewayId, parseGatewayOptions } from "./config.ts";

describe("gateway options", () => {
  it("fills defaults", () => {
    const c = parseGatewayOptions({ gatewayId: "gw-0" });
    expect(c).toMatchObject({
      namespace: "device-operator-system",
      mqtt: { port: 1883 },
      http: { port: 8080 },
      admin: { port: 9090 },
      decisionTimeoutMs: 10_000,
      limits: { maxKubeWritesInFlight: 32, publishPerClient: { ratePerSecond: 1, burst: 5 } },
    });
  });
  it("merges partial nested limits with defaults", () => {
    const c = parseGatewayOptions({ gatewayId: "gw", limits: { publishPerClient: { burst: 2 } } });
    expect(c.limits.publishPerClient).toEqual({ ratePerSecond: 1, burst: 2 });
    expect(c.limits.maxWaiting).toBe(10_000);
  });
  it("reports every bad field with its path and a stable code", () => {
    expect(() =>
      parseGatewayOptions({ gatewayId: "no spaces", mqtt: { port: 70_000 }, namespace: "Bad_NS" }),
    ).toThrow(
      expect.objectContaining({
        code: "E_GW_CONFIG",
        message: expect.stringMatching(/gatewayId.*namespace|namespace.*gatewayId/s),
      }),
    );
    expect(() => parseGatewayOptions({ mqtt: { port: 70_000 } })).toThrow(/mqtt\.port/);
  });
  it("binds the admin port to loopback and bounds the edge by default [issue 13]", () => {
    const c = parseGatewayOptions({});
    expect(c.admin.host).toBe("127.0.0.1");
    expect(c.mqtt).toMatchObject({ connectTimeoutMs: 3_000, maxKeepaliveSeconds: 300, listenBacklog: 8_192 });
    expect(c.limits).toMatchObject({ replayPerDevice: 32, notReadyAtCapFraction: 0.9 });
    expect(c.http).toMatchObject({ headersTimeoutMs: 5_000, requestTimeoutMs: 15_000 });
  });
  it("refuses connection caps that do not fit the open-file limit", () => {
    expect(() => parseGatewayOptions({ limits: { mqttConnections: { max: 100_000_000 } } })).toThrow(
      /limits\.mqttConnections\.max.*open-file limit/,
    );
  });
  it("[PROTO-23b] bounds the replay memory per address: 10 000 by default, at most replayMaxEntries", () => {
    expect(parseGatewayOptions({}).limits.replayPerAddress).toBe(10_000);
    expect(parseGatewayOptions({ limits: { replayPerAddress: 50 } }).limits.replayPerAddress).toBe(50);
    // Unset, it follows a smaller memory down (it can never exceed it), so lowering
    // replayMaxEntries alone stays a valid configuration.
    expect(parseGatewayOptions({ limits: { replayMaxEntries: 200 } }).limits.replayPerAddress).toBe(200);
    expect(
      parseGatewayOptions({ limits: { replayMaxEntries: 200, replayPerAddress: 200 } }).limits
        .replayPerAddress,
    ).toBe(200);
    expect(() => parseGatewayOptions({ limits: { replayMaxEntries: 200, replayPerAddress: 201 } })).toThrow(
      expect.objectContaining({
        code: "E_GW_CONFIG",
        message: expect.stringMatching(/limits\.replayPerAddress: .*at most replayMaxEntries \(200\)/),
      }),
    );
    expect(() => parseGatewayOptions({ limits: { replayPerAddress: 200_000 } })).toThrow(
      /limits\.replayPerAddress.*100000/,
    );
    expect(() => parseGatewayOptions({ limits: { replayPerAddress: 0 } })).toThrow(
      /limits\.replayPerAddress/,
    );
    expect(() => parseGatewayOptions({ limits: { replayPerAddress: 1.5 } })).toThrow(
      /limits\.replayPerAddress/,
    );
  });
  it("groups IPv6 addresses for per-address limits by a /64 unless told otherwise (32..128)", () => {
    expect(parseGatewayOptions({}).limits.ipv6PrefixLength).toBe(64);
    expect(parseGatewayOptions({ limits: { ipv6PrefixLength: 56 } }).limits.ipv6PrefixLength).toBe(56);
    for (const bad of [31, 129, 63.5]) {
      expect(() => parseGatewayOptions({ limits: { ipv6PrefixLength: bad } })).toThrow(
        /limits\.ipv6PrefixLength/,
      );
    }
  });

  it("allows turning HTTP off", () => {
    expect(parseGatewayOptions({ http: false }).http).toBe(false);
  });
  it("takes LOG_LEVEL when no level is given, and checks it like one", () => {
    expect(parseGatewayOptions({}, {}).logLevel).toBe("info");
    expect(parseGatewayOptions({}, { logLevel: "debug" }).logLevel).toBe("debug");
    expect(parseGatewayOptions({ logLevel: "warn" }, { logLevel: "debug" }).logLevel).toBe("warn");
    expect(() => parseGatewayOptions({}, { logLevel: "loud" })).toThrow(/logLevel/);
  });
  it("derives a valid label value from the host name", () => {
    expect(defaultGatewayId()).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
  });

  it("takes a two-file $KUBECONFIG list as a list: the first existing file is used", () => {
    const dir = mkdtempSync(join(tmpdir(), "devreg-gw-kc-"));
    const second = writeKubeconfig(join(dir, "second"), "http://127.0.0.1:2");
    const cfg = parseGatewayOptions({}, readEnv({ KUBECONFIG: `${join(dir, "none")}:${second}` }));
    expect(resolveKubeConfig(cfg.kubeconfig, cfg.envKubeconfig).origin).toBe(second);
    // An explicit file wins; the environment's value is kept apart.
    expect(parseGatewayOptions({ kubeconfig: second }, { kubeconfig: "/x:/y" })).toMatchObject({
      kubeconfig: second,
      envKubeconfig: "/x:/y",
    });
  });
});
