import { KubeError } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { busyReply, jittered, replyForKubeError } from "./replies.ts";

const t = { requestId: "r1", deviceId: "0".repeat(32) };

describe("busy policy for Kubernetes failures", () => {
  it("429 becomes busy, honouring a larger Retry-After from the apiserver", () => {
    const r = replyForKubeError(t, new KubeError("E_KUBE_THROTTLED", "slow down", 429, 40), 5);
    expect(r).toMatchObject({ status: "busy", reason: "Busy", retryAfterSeconds: 40 });
    expect(r.message).toMatch(/throttling/);
    const small = replyForKubeError(t, new KubeError("E_KUBE_THROTTLED", "slow down", 429, 1), 5);
    expect(small.retryAfterSeconds).toBeGreaterThanOrEqual(5);
  });
  it.each(["E_KUBE_UNAVAILABLE", "E_KUBE_TIMEOUT"] as const)("%s becomes busy ApiUnavailable", (code) => {
    expect(replyForKubeError(t, new KubeError(code, "down"), 5)).toMatchObject({
      status: "busy",
      reason: "Busy",
    });
  });
  it("422 from the apiserver is InvalidSpec [PROTO-27]", () => {
    expect(replyForKubeError(t, new KubeError("E_KUBE_INVALID", "no"), 5)).toMatchObject({
      status: "error",
      reason: "InvalidSpec",
    });
  });
  it.each(["E_KUBE_FORBIDDEN", "E_KUBE_HTTP"] as const)(
    "%s is an Internal error reply, not silence",
    (code) => {
      expect(replyForKubeError(t, new KubeError(code, "no"), 5)).toMatchObject({
        status: "error",
        reason: "Internal",
      });
    },
  );
  it("anything else thrown is an Internal error reply", () => {
    expect(replyForKubeError(t, new Error("boom"), 5)).toMatchObject({ status: "error", reason: "Internal" });
  });
});

describe("retry hints", () => {
  it("jitters up to +50 % and never below 1 s", () => {
    expect(jittered(10, () => 0)).toBe(10);
    expect(jittered(10, () => 0.999)).toBe(15);
    expect(jittered(0, () => 0)).toBe(1);
  });
  it("busy replies always carry a whole, positive retryAfterSeconds", () => {
    expect(busyReply(t, "GatewayBusy", 0.2).retryAfterSeconds).toBe(1);
    expect(busyReply(t, "GatewayBusy", 2.5).retryAfterSeconds).toBe(3);
  });
});
