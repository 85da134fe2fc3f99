import { describe, expect, it } from "vitest";
import { DecisionListeners } from "./decision-listeners.ts";
import type { DecisionRecord } from "./reconciler.ts";

const d: DecisionRecord = {
  namespace: "ns",
  name: "r",
  phase: "Approved",
  reason: "Paired",
  decidedBy: "op",
  at: new Date(0),
};

describe("DecisionListeners", () => {
  it("tells every listener, past one that throws, until it unsubscribes", () => {
    const l = new DecisionListeners();
    const heard: string[] = [];
    l.add(() => {
      throw new Error("buggy listener");
    });
    const off = l.add((x) => heard.push(x.name));
    l.emit(d);
    off();
    l.emit(d);
    expect(heard).toEqual(["r"]);
  });
});
