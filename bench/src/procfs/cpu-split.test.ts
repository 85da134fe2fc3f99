import { describe, expect, it } from "vitest";
import { CpuLedger, cpuSplit } from "./cpu-split.ts";

describe("cpuSplit", () => {
  it("splits the CPU used between two snapshots by process", () => {
    const split = cpuSplit(
      { etcd: 1, "kube-apiserver": 10, gateway: 2, bench: 5 },
      { etcd: 2, "kube-apiserver": 16, gateway: 4, bench: 6, operator: 3 },
      10,
    );
    expect(split).toEqual([
      { role: "etcd", cpuSeconds: 1, sharePct: 10, cores: 0.1 },
      { role: "kube-apiserver", cpuSeconds: 6, sharePct: 60, cores: 0.6 },
      { role: "gateway", cpuSeconds: 2, sharePct: 20, cores: 0.2 },
      { role: "bench", cpuSeconds: 1, sharePct: 10, cores: 0.1 },
    ]);
  });

  it("gives zero shares when nothing ran", () => {
    expect(cpuSplit({ etcd: 1 }, { etcd: 1 }, 0)).toEqual([
      { role: "etcd", cpuSeconds: 0, sharePct: 0, cores: 0 },
    ]);
  });
});

describe("CpuLedger", () => {
  it("banks a retired process and keeps counting its successor under the same role", () => {
    const cpu = new Map<number, number>([
      [1, 10],
      [2, 100],
    ]);
    const ledger = new CpuLedger((pid) => cpu.get(pid));
    ledger.track("gateway", 1);
    ledger.track("etcd", 2);
    cpu.set(1, 13);
    ledger.retire("gateway");
    cpu.delete(1);
    cpu.set(3, 50);
    ledger.track("gateway", 3);
    cpu.set(3, 54);
    cpu.set(2, 103);
    expect(ledger.split(10)).toEqual([
      { role: "gateway", cpuSeconds: 7, sharePct: 70, cores: 0.7 },
      { role: "etcd", cpuSeconds: 3, sharePct: 30, cores: 0.3 },
    ]);
  });
});
