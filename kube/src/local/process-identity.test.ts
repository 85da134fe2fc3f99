import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ClusterState, clusterDown, clusterStatus, isAlive, readState } from "./controlplane.ts";
import { findByArgv, isStillRunning, parseCmdline, parseStartTicks, processIdentity } from "./process-identity.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** A harmless long-running process with an argv no other process has. */
async function sleeper(tag: string): Promise<{ pid: number; argv: string[] }> {
  const argv = ["/bin/sh", "-c", `sleep 60 # devreg-test ${tag} ${process.pid} ${Math.random()}`];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", detached: true });
  children.push(child);
  // Until it has exec'd, /proc shows node's argv.
  for (let i = 0; i < 100 && processIdentity(child.pid!)?.argv[0] !== "/bin/sh"; i++) await new Promise((r) => setTimeout(r, 10));
  return { pid: child.pid!, argv };
}

function fakeState(dir: string, processes: ClusterState["processes"]): void {
  writeFileSync(join(dir, "ca.crt"), "");
  const st: ClusterState = {
    stateDir: dir,
    kubeconfig: join(dir, "kubeconfig"),
    server: "https://127.0.0.1:1",
    etcdPid: processes!.etcd.pid,
    apiserverPid: processes!.apiserver.pid,
    etcdClientPort: 1,
    apiserverPort: 1,
    startedAt: new Date().toISOString(),
    adminToken: "t",
    caCert: join(dir, "ca.crt"),
    processes,
  };
  writeFileSync(join(dir, "state.json"), JSON.stringify(st));
}

describe("process identity (/proc)", () => {
  it("reads field 22 after the last ')' even when the command name holds spaces and parentheses", () => {
    const rest = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20";
    expect(parseStartTicks(`123 (a) b) c) ${rest}`)).toBe(424242);
    expect(parseStartTicks("garbage")).toBeUndefined();
    expect(parseCmdline("etcd\0--name=x\0")).toEqual(["etcd", "--name=x"]);
  });

  it("tells a live process from a reused pid (other start time or argv)", () => {
    const me = processIdentity(process.pid)!;
    expect(isStillRunning(me)).toBe(true);
    expect(isStillRunning({ ...me, startTicks: me.startTicks + 1 })).toBe(false);
    expect(isStillRunning({ ...me, argv: ["/usr/bin/etcd"] })).toBe(false);
  });

  it("finds a process by its exact argv", async () => {
    const s = await sleeper("find");
    expect(findByArgv(s.argv).map((p) => p.pid)).toEqual([s.pid]);
    expect(findByArgv([...s.argv, "x"])).toEqual([]);
  });
});

describe("devreg cluster signals only its own processes", () => {
  it("down leaves alone a process that took over a recorded pid (other start time)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devreg-id-"));
    const impostor = await sleeper("impostor");
    const id = processIdentity(impostor.pid)!;
    // The state recorded "etcd" and "kube-apiserver" at this pid, started at another time.
    const recorded = { pid: impostor.pid, startTicks: id.startTicks - 1, argv: ["/cache/etcd", "--name=devreg"] };
    fakeState(dir, { etcd: recorded, apiserver: { ...recorded, argv: ["/cache/kube-apiserver"] } });
    expect((await clusterStatus({ stateDir: dir })).detail).toMatch(/^stale: kube-apiserver is not running/);
    expect(await clusterDown({ stateDir: dir })).toEqual({ stopped: false });
    expect(isAlive(impostor.pid)).toBe(true);
  });

  it("status adopts a process restarted by hand with the same argv, and down then stops it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devreg-id-"));
    const etcd = await sleeper("etcd");
    const restarted = await sleeper("apiserver");
    const restartedId = processIdentity(restarted.pid)!;
    // Recorded: an apiserver pid that has since exited; the same argv now runs at another pid.
    fakeState(dir, {
      etcd: processIdentity(etcd.pid)!,
      apiserver: { pid: 999_999_999, startTicks: 1, argv: restarted.argv },
    });
    const s = await clusterStatus({ stateDir: dir });
    expect(s.running).toBe(true);
    expect(s.adopted).toEqual(["apiserver"]);
    expect(s.detail).toContain(`kube-apiserver was restarted outside devreg cluster (now pid ${restarted.pid})`);
    expect(readState(dir)?.processes?.apiserver).toEqual(restartedId);
    expect(readState(dir)?.apiserverPid).toBe(restarted.pid);

    expect(await clusterDown({ stateDir: dir })).toEqual({ stopped: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(isStillRunning(restartedId)).toBe(false);
    expect(isStillRunning(processIdentity(etcd.pid) ?? { pid: etcd.pid, startTicks: 0, argv: [] })).toBe(false);
  });
});
