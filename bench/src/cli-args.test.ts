import { describe, expect, it } from "vitest";
import { parseCliArgs } from "./cli-args.ts";

describe("parseCliArgs", () => {
  it("parses lists and numbers", () => {
    const { options, json } = parseCliArgs([
      "--rates",
      "20,100",
      "--sweep",
      "100,1000",
      "--burst",
      "500",
      "--json",
    ]);
    expect(options.rates).toEqual([20, 100]);
    expect(options.sweep).toEqual([100, 1000]);
    expect(options.burstCount).toBe(500);
    expect(json).toBe(true);
  });

  it("--kubeconfig, and $KUBECONFIG from the environment it is given, kept apart (the latter may be a list)", () => {
    expect(parseCliArgs([], { kubeconfig: "/a:/b" }).options).toMatchObject({ envKubeconfig: "/a:/b" });
    expect(parseCliArgs([], { kubeconfig: "/a:/b" }).options.kubeconfig).toBeUndefined();
    expect(parseCliArgs(["--kubeconfig", "/flag"], { kubeconfig: "/env" }).options).toMatchObject({
      kubeconfig: "/flag",
      envKubeconfig: "/env",
    });
    expect(parseCliArgs([]).options.kubeconfig).toBeUndefined();
    expect(parseCliArgs([]).options.envKubeconfig).toBeUndefined();
  });

  it("--sweep '' turns the sweep off", () => {
    expect(parseCliArgs(["--sweep", ""]).options.sweep).toEqual([]);
  });

  it("--phases, --sweep-budget and --reconnect-max", () => {
    const { options } = parseCliArgs([
      "--phases",
      "burst,isolated",
      "--sweep-budget",
      "600",
      "--reconnect-max",
      "5000",
      "--sweep",
      "100000,20000,20000",
    ]);
    expect(options.phases).toEqual(["burst", "isolated"]);
    expect(options.sweepBudgetMs).toBe(600_000);
    expect(options.reconnectMax).toBe(5000);
    expect(options.sweep).toEqual([20_000, 100_000]);
    expect(() => parseCliArgs(["--phases", "burst,warp"])).toThrow(
      expect.objectContaining({ code: "E_USAGE" }),
    );
    expect(() => parseCliArgs(["--sweep", "1.5"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => parseCliArgs(["--sweep", "1000000"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });

  it("refuses bad values and unknown flags with E_USAGE", () => {
    expect(() => parseCliArgs(["--rates", "20,x"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => parseCliArgs(["--burst", "0"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => parseCliArgs(["--nope"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });
});
