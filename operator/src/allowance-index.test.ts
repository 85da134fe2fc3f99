import type { DeviceAllowance } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { AllowanceIndex } from "./allowance-index.ts";

const allowance = (name: string, publicKey?: string) =>
  ({
    metadata: { name, namespace: "ns" },
    spec: publicKey === undefined ? {} : { publicKey },
  }) as DeviceAllowance;

describe("AllowanceIndex", () => {
  it("maps a public key to its allowance; a delete forgets only the allowance that still holds the key", () => {
    const idx = new AllowanceIndex();
    idx.set(allowance("a", "pk"));
    idx.set(allowance("none"));
    expect(idx.get("pk")).toBe("a");
    idx.set(allowance("b", "pk"));
    idx.delete(allowance("a", "pk"));
    expect(idx.get("pk")).toBe("b");
    idx.delete(allowance("b", "pk"));
    expect(idx.get("pk")).toBeUndefined();
  });
});
