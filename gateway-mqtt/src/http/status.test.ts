import { describe, expect, it } from "vitest";
import { httpStatusForReply, retryAfterHeader } from "./status.ts";

describe("HTTP status for a reply", () => {
  it.each([
    [{ status: "approved" }, 200],
    [{ status: "pending", retryAfterSeconds: 10 }, 202],
    [{ status: "rejected", reason: "PairingDisabled" }, 403],
    [{ status: "deactivated" }, 403],
    [{ status: "busy", retryAfterSeconds: 5 }, 429],
    [{ status: "error", reason: "Malformed" }, 400],
    [{ status: "error", reason: "BadSignature" }, 400],
    [{ status: "error", reason: "ClockSkew" }, 400],
    [{ status: "error", reason: "Replay" }, 400],
    [{ status: "error", reason: "TooLarge" }, 413],
    [{ status: "error", reason: "Internal" }, 500],
  ] as const)("%j -> %i", (reply, code) => {
    expect(httpStatusForReply(reply)).toBe(code);
  });

  it("sets Retry-After for busy and pending only", () => {
    expect(retryAfterHeader({ status: "busy", retryAfterSeconds: 7 })).toBe("7");
    expect(retryAfterHeader({ status: "pending", retryAfterSeconds: 10 })).toBe("10");
    expect(retryAfterHeader({ status: "approved" })).toBeUndefined();
    expect(retryAfterHeader({ status: "error", retryAfterSeconds: 3 })).toBeUndefined();
  });
});
