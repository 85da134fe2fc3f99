import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isAlive, readState } from "../src/local/controlplane.ts";
import { processIdentity } from "../src/local/process-identity.ts";

const run = promisify(execFile);
const DEVREG = resolve(import.meta.dirname, "../../bin/devreg");

async function devreg(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(DEVREG, args, { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("devreg cluster (a second, independent control plane)", () => {
  it("up → status → env → down, on its own free ports, leaving no process behind", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    const up = await devreg(["cluster", "up", "--state-dir", stateDir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/cluster ready at https:\/\/127\.0\.0\.1:\d+/);
    const st = readState(stateDir)!;
    expect(isAlive(st.etcdPid) && isAlive(st.apiserverPid)).toBe(true);

    const status = await devreg(["cluster", "status", "--state-dir", stateDir, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, ready: true, server: st.server });
    const env = await devreg(["cluster", "env", "--state-dir", stateDir]);
    expect(env.stdout.trim()).toBe(`export KUBECONFIG=${st.kubeconfig}`);

    // etcd: TLS on loopback only, and only for clients with a certificate from the cluster's CA.
    const pki = join(stateDir, "pki");
    const etcdHealth = (tls: https.RequestOptions) =>
      new Promise<number>((res, rej) => {
        https
          .get(`https://127.0.0.1:${st.etcdClientPort}/health`, { ca: readFileSync(join(pki, "ca.crt")), ...tls, timeout: 3000 }, (r) => {
            r.resume();
            res(r.statusCode ?? 0);
          })
          .on("error", rej);
      });
    await expect(etcdHealth({})).rejects.toThrow();
    await expect(
      etcdHealth({ cert: readFileSync(join(pki, "apiserver-etcd-client.crt")), key: readFileSync(join(pki, "apiserver-etcd-client.key")) }),
    ).resolves.toBe(200);
    await expect(fetch(`http://127.0.0.1:${st.etcdClientPort}/health`)).rejects.toThrow();
    const listening = await run("ss", ["-Hltn", `sport = :${st.etcdClientPort}`]).catch(() => ({ stdout: "" }));
    if (listening.stdout) expect(listening.stdout).toMatch(/127\.0\.0\.1:/);

    // No /debug/pprof unless asked for (--profiling).
    await expect(run("kubectl", ["--kubeconfig", st.kubeconfig, "get", "--raw", "/debug/pprof/"])).rejects.toThrow(/NotFound|not found/i);

    // A second `up` on the same state dir refuses instead of starting duplicates.
    const again = await devreg(["cluster", "up", "--state-dir", stateDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^devreg: already running at /);

    const down = await devreg(["cluster", "down", "--state-dir", stateDir]);
    expect(down.stdout).toContain("cluster stopped");
    // Gone, or a zombie its new parent has not reaped yet: nothing runs any more.
    expect(processIdentity(st.etcdPid)).toBeUndefined();
    expect(processIdentity(st.apiserverPid)).toBeUndefined();
    const after = await devreg(["cluster", "status", "--state-dir", stateDir]);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not running/);
  });

  it("--profiling serves kube-apiserver's /debug/pprof to the admin", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    const up = await devreg(["cluster", "up", "--state-dir", stateDir, "--profiling"]);
    expect(up.code, up.stderr).toBe(0);
    try {
      const st = readState(stateDir)!;
      const r = await run("kubectl", ["--kubeconfig", st.kubeconfig, "get", "--raw", "/debug/pprof/"]);
      expect(r.stdout).toContain("goroutine");
    } finally {
      await devreg(["cluster", "down", "--state-dir", stateDir]);
    }
  });

  it("fails with one line when etcd is missing, and leaves no state", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    const r = await devreg(["cluster", "up", "--state-dir", stateDir], { DEVREG_ETCD: "/nonexistent/etcd" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toBe("devreg: etcd not found: /nonexistent/etcd (from $DEVREG_ETCD)");
    expect(readState(stateDir)).toBeUndefined();
  });

  it("bounds a kube-apiserver that never becomes ready, and kills what it started", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    const fakeDir = mkdtempSync(join(tmpdir(), "devreg-fake-"));
    const fake = join(fakeDir, "kube-apiserver");
    writeFileSync(fake, "#!/bin/sh\necho never ready; exec sleep 300\n");
    chmodSync(fake, 0o755);
    const r = await devreg(["cluster", "up", "--state-dir", stateDir, "--ready-timeout", "2"], {
      DEVREG_KUBE_APISERVER: fake,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^devreg: kube-apiserver not ready after 2 s \(log: .*kube-apiserver\.log\)$/);
    const ps = await run("pgrep", ["-f", fake]).catch(() => ({ stdout: "" }));
    expect(ps.stdout.trim()).toBe("");
    expect(readState(stateDir)).toBeUndefined();
  });

  it("reports a kube-apiserver that exits at start with its log line", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    const fakeDir = mkdtempSync(join(tmpdir(), "devreg-fake-"));
    const fake = join(fakeDir, "kube-apiserver");
    writeFileSync(fake, "#!/bin/sh\necho 'failed to listen on 127.0.0.1: address already in use' >&2; exit 1\n");
    chmodSync(fake, 0o755);
    const r = await devreg(["cluster", "up", "--state-dir", stateDir], { DEVREG_KUBE_APISERVER: fake });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/devreg: kube-apiserver exited during start-up: failed to listen .*address already in use/);
  });

  it("cleans a stale state directory left by a crashed run and starts fresh", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "devreg-cp-"));
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      join(stateDir, "state.json"),
      JSON.stringify({ etcdPid: 999999, apiserverPid: 999998, server: "https://127.0.0.1:1", kubeconfig: join(stateDir, "kubeconfig") }),
    );
    const status = await devreg(["cluster", "status", "--state-dir", stateDir]);
    expect(status.stdout).toMatch(/^stale: /);
    const up = await devreg(["cluster", "up", "--state-dir", stateDir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("cleaning stale state");
    const down = await devreg(["cluster", "down", "--state-dir", stateDir]);
    expect(down.code).toBe(0);
  });
});
