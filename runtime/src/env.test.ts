import { describe, expect, it } from "vitest";
import { readEnv } from "./env.ts";

describe("readEnv", () => {
  it("reads the three variables, trimmed; empty means unset", () => {
    expect(readEnv({ DEVREG_NAMESPACE: " fleet ", KUBECONFIG: "/k", LOG_LEVEL: "debug" })).toEqual({
      namespace: "fleet",
      kubeconfig: "/k",
      logLevel: "debug",
    });
    expect(readEnv({ DEVREG_NAMESPACE: "", KUBECONFIG: "  " })).toEqual({});
  });
});
