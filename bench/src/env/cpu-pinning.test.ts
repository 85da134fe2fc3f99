import { describe, expect, it } from "vitest";
import { parseCpusAllowedList, planIsolation } from "./cpu-pinning.ts";

describe("planIsolation", () => {
  const base = { cpus: 2, external: false, controlPlanePids: [10, 11], haveTaskset: true };

  it("gives the control plane one core of two and the rest the other", () => {
    expect(planIsolation(base)).toEqual({ kind: "pin", controlPlane: "0", rest: "1" });
  });

  it("splits larger machines in halves", () => {
    expect(planIsolation({ ...base, cpus: 8 })).toEqual({ kind: "pin", controlPlane: "0-3", rest: "4-7" });
    expect(planIsolation({ ...base, cpus: 3 })).toEqual({ kind: "pin", controlPlane: "0", rest: "1-2" });
  });

  it("skips, saying why, where it cannot pin", () => {
    expect(planIsolation({ ...base, cpus: 1 })).toMatchObject({
      kind: "skip",
      why: expect.stringContaining("1 core"),
    });
    expect(planIsolation({ ...base, external: true })).toMatchObject({
      kind: "skip",
      why: expect.stringContaining("--kubeconfig"),
    });
    expect(planIsolation({ ...base, controlPlanePids: [10, undefined] }).kind).toBe("skip");
    expect(planIsolation({ ...base, haveTaskset: false })).toMatchObject({
      why: expect.stringContaining("taskset"),
    });
  });
});

describe("parseCpusAllowedList", () => {
  it("reads the affinity list from /proc/<pid>/status", () => {
    expect(
      parseCpusAllowedList("Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t1\n"),
    ).toBe("0-1");
    expect(parseCpusAllowedList("Name:\tnode\n")).toBeUndefined();
  });
});
