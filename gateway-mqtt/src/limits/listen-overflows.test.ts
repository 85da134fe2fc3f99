import { describe, expect, it } from "vitest";
import { parseListenOverflows, readListenOverflows } from "./listen-overflows.ts";

describe("listen overflows", () => {
  it("reads TcpExt ListenOverflows from /proc/net/netstat's name and value lines", () => {
    const text = [
      "TcpExt: SyncookiesSent ListenOverflows ListenDrops",
      "TcpExt: 3 17 20",
      "IpExt: InNoRoutes",
      "IpExt: 0",
      "",
    ].join("\n");
    expect(parseListenOverflows(text)).toBe(17);
    expect(parseListenOverflows("IpExt: InNoRoutes\nIpExt: 0\n")).toBeUndefined();
    expect(parseListenOverflows("TcpExt: ListenOverflows\nTcpExt: x\n")).toBeUndefined();
  });

  it("reads this machine's count, or nothing where there is no /proc", () => {
    const n = readListenOverflows();
    if (process.platform === "linux") expect(n).toBeGreaterThanOrEqual(0);
    expect(readListenOverflows("/nonexistent")).toBeUndefined();
  });
});
