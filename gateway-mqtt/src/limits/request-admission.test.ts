import type { EnrollRequest } from "@devreg/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseGatewayOptions } from "../config.ts";
import { RequestAdmission } from "./request-admission.ts";

const cfg = parseGatewayOptions(
  {
    busyRetryAfterSeconds: 4,
    limits: {
      publishPerClient: { ratePerSecond: 1, burst: 2 },
      publishGlobal: { ratePerSecond: 1, burst: 3 },
      httpPerAddress: { ratePerSecond: 1, burst: 1 },
      maxWaiting: 5,
    },
  },
  {},
);

function admission() {
  const state = { stopping: false, waiting: 0 };
  const refused: string[] = [];
  const a = new RequestAdmission({
    cfg,
    stopping: () => state.stopping,
    waiting: () => state.waiting,
    refuse: (kind) => refused.push(kind),
  });
  return { a, state, refused };
}

const req = (deviceId: string) => ({ requestId: `r-${deviceId}`, deviceId }) as EnrollRequest;

describe("request admission", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("[PROTO-42] MQTT: over its client's rate, one signed busy per window with the bucket's retry time, then drops", () => {
    const { a, refused } = admission();
    expect(a.mqttPublish("d1").kind).toBe("admit");
    expect(a.mqttPublish("d1").kind).toBe("admit");
    expect(a.mqttPublish("d1")).toEqual({ kind: "shed", cause: "RateLimited", retryAfterSeconds: 1 });
    expect(a.mqttPublish("d1")).toEqual({ kind: "drop" });
    expect(a.mqttPublish("d2").kind).toBe("admit"); // another client's bucket
    expect(refused).toEqual(["publish_rate", "publish_rate"]);
    vi.advanceTimersByTime(1_000);
    expect(a.mqttPublish("d1").kind).toBe("admit");
    expect(a.mqttPublish("d1")).toMatchObject({ kind: "shed", cause: "RateLimited" });
  });

  it("MQTT: a stopping gateway sheds ShuttingDown, and sends no rate notice", () => {
    const { a, state, refused } = admission();
    state.stopping = true;
    const shed = a.mqttPublish("d1");
    expect(shed).toMatchObject({ kind: "shed", cause: "ShuttingDown" });
    expect(shed.kind === "shed" && shed.retryAfterSeconds).toBeGreaterThanOrEqual(4);
    a.mqttPublish("d1");
    expect(a.mqttPublish("d1")).toEqual({ kind: "drop" }); // over rate while stopping: no notice
    expect(refused).toEqual(["publish_rate"]);
  });

  it("MQTT: the per-client charge happens once, before decoding; verified() charges only the gateway-wide bucket", () => {
    const { a } = admission();
    expect(a.mqttPublish("d1").kind).toBe("admit");
    expect(a.verified(req("d1"), "mqtt", { clientId: "d1" })).toBeUndefined();
    expect(a.mqttPublish("d1").kind).toBe("admit"); // its second token, not spent by verified()
    expect(a.verified(req("d1"), "mqtt", { clientId: "d1" })).toBeUndefined();
  });

  it("[PROTO-34] HTTP: 503 while stopping, 429 over the address's rate, before anything is parsed", () => {
    const { a, state, refused } = admission();
    expect(a.httpRequest("10.0.0.1").kind).toBe("admit");
    expect(a.httpRequest("10.0.0.1")).toMatchObject({ kind: "shed", status: 429, code: "E_RATE_LIMITED" });
    expect(a.httpRequest("10.0.0.2").kind).toBe("admit");
    state.stopping = true;
    expect(a.httpRequest("10.0.0.3")).toEqual({
      kind: "shed",
      status: 503,
      code: "E_SHUTTING_DOWN",
      message: "gateway shutting down",
      retryAfterSeconds: 4,
    });
    expect(refused).toEqual(["http_rate"]);
  });

  it("HTTP: an IPv6 /64 and mapped/plain IPv4 each share one bucket; the refusal names the raw address", () => {
    const remotes: Array<string | undefined> = [];
    const a = new RequestAdmission({
      cfg,
      stopping: () => false,
      waiting: () => 0,
      refuse: (_kind, f) => remotes.push(f.remote),
    });
    expect(a.httpRequest("2001:db8:1:2::1").kind).toBe("admit");
    expect(a.httpRequest("2001:DB8:1:2:0:0:0:2").kind).toBe("shed");
    expect(a.httpRequest("2001:db8:1:3::1").kind).toBe("admit");
    expect(a.httpRequest("::ffff:192.0.2.1").kind).toBe("admit");
    expect(a.httpRequest("192.0.2.1").kind).toBe("shed");
    expect(remotes).toEqual(["2001:DB8:1:2:0:0:0:2", "192.0.2.1"]);
  });

  it("HTTP: the per-device bucket is charged after verification, shared with MQTT", () => {
    const { a, refused } = admission();
    expect(a.mqttPublish("d1").kind).toBe("admit");
    expect(a.verified(req("d1"), "http", { remote: "r" })).toBeUndefined();
    const busy = a.verified(req("d1"), "http", { remote: "r" });
    expect(busy).toMatchObject({ status: "busy", deviceId: "d1", requestId: "r-d1", retryAfterSeconds: 1 });
    expect(busy?.message).toMatch(/rate limit/);
    expect(refused).toEqual(["publish_rate"]);
  });

  it("verified requests of both transports share the gateway-wide bucket; garbage never reaches it", () => {
    const { a, refused } = admission();
    expect(a.verified(req("a"), "mqtt", {})).toBeUndefined();
    expect(a.verified(req("b"), "http", {})).toBeUndefined();
    expect(a.verified(req("c"), "mqtt", {})).toBeUndefined();
    expect(a.verified(req("d"), "mqtt", { clientId: "d", remote: "r" })).toMatchObject({
      status: "busy",
      message: expect.stringMatching(/rate limit/),
    });
    expect(refused).toEqual(["global_rate"]);
  });

  it("a request decided in the cache skips the gateway-wide bucket and the waiting cap, not the per-device one", () => {
    const { a, state, refused } = admission();
    for (const d of ["a", "b", "c"]) expect(a.verified(req(d), "mqtt", {})).toBeUndefined();
    expect(a.verified(req("d"), "mqtt", {})?.status).toBe("busy"); // gateway-wide bucket empty
    expect(a.verified(req("e"), "mqtt", {}, true)).toBeUndefined();
    state.waiting = 5;
    expect(a.verified(req("f"), "mqtt", {}, true)).toBeUndefined();
    expect(a.verified(req("g"), "http", { remote: "r" }, true)).toBeUndefined();
    expect(a.verified(req("g"), "http", { remote: "r" }, true)).toBeUndefined(); // per-device burst 2
    expect(a.verified(req("g"), "http", { remote: "r" }, true)?.message).toMatch(/rate limit/);
    state.stopping = true;
    expect(a.verified(req("h"), "mqtt", {}, true)?.message).toMatch(/shutting down/);
    expect(refused).toEqual(["global_rate", "publish_rate"]);
  });

  it("sheds ShuttingDown after verification while stopping, and GatewayBusy at the waiting cap", () => {
    const { a, state } = admission();
    state.waiting = 5;
    expect(a.verified(req("a"), "mqtt", {})?.message).toMatch(/too many registrations/);
    state.stopping = true;
    expect(a.verified(req("a"), "mqtt", {})?.message).toMatch(/shutting down/);
  });
});
