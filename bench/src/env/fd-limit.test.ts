import { describe, expect, it } from "vitest";
import { parseOpenFilesLimit } from "./fd-limit.ts";

describe("parseOpenFilesLimit", () => {
  it("reads the soft limit", () => {
    const text = [
      "Limit                     Soft Limit           Hard Limit           Units     ",
      "Max cpu time              unlimited            unlimited            seconds   ",
      "Max open files            20000                20000                files     ",
    ].join("\n");
    expect(parseOpenFilesLimit(text)).toBe(20000);
    expect(
      parseOpenFilesLimit("Max open files            unlimited            unlimited            files"),
    ).toBe(Number.POSITIVE_INFINITY);
    expect(parseOpenFilesLimit("")).toBeUndefined();
  });
});
