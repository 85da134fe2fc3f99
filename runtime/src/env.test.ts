import { describe, expect, it } from "vitest";
import { readEnv } from "./env.ts";

describe("readEnv", () => {
  it("reads the three variables, trimmed; empty means unset", () => {
    expect(readEnv({ DEVREG_NAMESPACE: " fleet ", KUBECONFIG: "/k", LOG_LEVEL: "debug" })).toEqual({
      namespace: "fleet",
      kubeconfig: "/k",
      logLevel: "debug",
      vars: { DEVREG_NAMESPACE: " fleet " },
    });
    expect(readEnv({ DEVREG_NAMESPACE: "", KUBECONFIG: "  " })).toEqual({});
  });

  it("keeps every DEVREG_* variable and POD_NAME as set, for a component's own settings", () => {
    expect(
      readEnv({ DEVREG_OPERATOR_CONCURRENCY: "8", POD_NAME: "op-0", HOME: "/root", DEVREG_X: "" }).vars,
    ).toEqual({
      DEVREG_OPERATOR_CONCURRENCY: "8",
      POD_NAME: "op-0",
    });
  });
});
