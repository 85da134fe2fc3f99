import { VERSION, readCrds } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { boardSelection } from "./decision-board.ts";

/** Field paths a list or watch may select on for DeviceRegistrations, as crds/ declares them. */
function selectableFields(): string[] {
  const crd = readCrds().find(
    (c) => c.metadata.name === "deviceregistrations.devices.example.com",
  ) as unknown as {
    spec: { versions: Array<{ name: string; selectableFields?: Array<{ jsonPath: string }> }> };
  };
  const version = crd.spec.versions.find((v) => v.name === VERSION);
  const declared = (version?.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, ""));
  return ["metadata.name", "metadata.namespace", ...declared];
}

describe("boardSelection", () => {
  it("selects this replica's label and a phase that is set", () => {
    expect(boardSelection("gw-a")).toEqual({
      labelSelector: "devices.example.com/gateway=gw-a",
      fieldSelector: "status.phase!=",
    });
  });

  it("selects only on fields the CRD in crds/ declares selectable (any other is a 400 from the apiserver)", () => {
    const fields = boardSelection("gw-a")
      .fieldSelector.split(",")
      .map((term) => term.split(/!=|==|=/)[0]);
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(selectableFields()).toContain(f);
  });
});
