import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigMap, type KubeRest, Registrations } from "@devreg/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import type { OperatorHandle } from "../src/index.ts";
import { pairingPath } from "../src/pairing.ts";
import { createDevice, testOperator, waitFor, waitForPhase } from "./helpers.ts";

const DEVREG = resolve(fileURLToPath(new URL("../../bin/devreg", import.meta.url)));

let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;
let op: OperatorHandle | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "op-cli");
  regs = new Registrations(rest, ns);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await op?.stop();
  rest?.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs bin/devreg asynchronously (a sync spawn would freeze the in-process operator). */
function devreg(args: string[], opts: { kubeconfig?: string | null } = {}): Promise<Run> {
  const kc = opts.kubeconfig === undefined ? kubeconfig : opts.kubeconfig;
  const full = kc === null ? args : ["--kubeconfig", kc, ...args];
  return new Promise((resolveRun) => {
    execFile(DEVREG, full, { encoding: "utf8", timeout: 60_000, env: { ...process.env, KUBECONFIG: "", DEVREG_NAMESPACE: "" } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}

const pairingCm = () => rest.request<ConfigMap>("GET", pairingPath(ns));

describe("devreg pairing", () => {
  it("status with no ConfigMap: closed (fail closed), exit 0", async () => {
    const r = await devreg(["pairing", "status", "-n", ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`pairing is CLOSED in ${ns}: ConfigMap devreg-pairing not found`);
    const j = await devreg(["pairing", "status", "-n", ns, "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ namespace: ns, open: false, code: "PairingConfigMissing", expiresAt: null, secondsLeft: null });
  });

  it("on --for 10m opens a window with an expiresAt 10 minutes out and shows the time left", async () => {
    const t0 = Date.now();
    const r = await devreg(["pairing", "on", "--for", "10m", "-n", ns]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`pairing is OPEN in ${ns}: (9m5\\ds|10m0s) left \\(until 20`));
    const cm = await pairingCm();
    expect(cm.data?.enabled).toBe("true");
    const exp = Date.parse(cm.data?.expiresAt ?? "");
    expect(exp - t0).toBeGreaterThan(595_000);
    expect(exp - t0).toBeLessThan(610_000);
    const s = JSON.parse((await devreg(["pairing", "status", "-n", ns, "--json"])).stdout);
    expect(s).toMatchObject({ open: true, code: "PairingWindowOpen", enabled: "true" });
    expect(s.secondsLeft).toBeGreaterThan(570);
    expect(s.secondsLeft).toBeLessThanOrEqual(600);
    // No operator runs yet: the CLI says so.
    expect(r.stderr).toContain("no operator is running");
  });

  it("off closes it and drops expiresAt", async () => {
    const r = await devreg(["pairing", "off", "-n", ns, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ open: false, code: "PairingDisabled", enabled: "false" });
    const cm = await pairingCm();
    // Closed, with no deadline left behind (the last window's id and its approval count stay, for audit).
    expect(cm.data).toMatchObject({ enabled: "false" });
    expect(cm.data).not.toHaveProperty("expiresAt");
    expect(cm.metadata).toHaveProperty("managedFields");
  });

  it("--forever opens without expiry; a bad --for is a usage error (exit 2, one line)", async () => {
    const r = await devreg(["pairing", "on", "--forever", "-n", ns]);
    expect(r.stdout).toContain("no expiry");
    const open = (await pairingCm()).data;
    expect(open).toMatchObject({ enabled: "true", mode: "auto", approvalsUsed: "0", windowId: expect.stringMatching(/^w-/) });
    expect(open).not.toHaveProperty("expiresAt");
    expect(open).not.toHaveProperty("maxDevices");
    const bad = await devreg(["pairing", "on", "--for", "banana", "-n", ns]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('devreg: --for: "banana" is not a duration (examples: 90s, 10m, 1h30m)');
  });
});

describe("devreg devices (with an operator running)", () => {
  let approvedName = "";
  let approvedUUID = "";
  let rejectedName = "";

  beforeAll(async () => {
    op = await testOperator(kubeconfig, ns);
    await op.waitForLeadership();
    await devreg(["pairing", "on", "--for", "10m", "-n", ns]);
    await waitFor("open", () => op?.pairing().open);
    const a = await createDevice(regs, { model: "th-02" });
    const approved = await waitForPhase(regs, a.metadata.name, "Approved");
    approvedName = a.metadata.name;
    approvedUUID = approved.status?.deviceUUID ?? "";
    await devreg(["pairing", "off", "-n", ns]);
    await waitFor("closed", () => !op?.pairing().open);
    const b = await createDevice(regs);
    await waitForPhase(regs, b.metadata.name, "Rejected");
    rejectedName = b.metadata.name;
  });

  it("list shows a table; --phase filters; --json is machine-readable", async () => {
    const r = await devreg(["devices", "list", "-n", ns]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]?.split(/\s{2,}/)).toEqual(["NAME", "PHASE", "UUID", "DEVICE", "MODEL", "REASON", "AGE"]);
    expect(lines.find((l) => l.startsWith(approvedName))).toMatch(new RegExp(`Approved\\s+${approvedUUID}\\s+[0-9a-f]{32}\\s+th-02\\s+PairingWindowOpen`));
    expect(lines.find((l) => l.startsWith(rejectedName))).toMatch(/Rejected\s+-\s+/);

    const j = JSON.parse((await devreg(["devices", "list", "-n", ns, "--phase", "approved", "--json"])).stdout);
    expect(j).toEqual([expect.objectContaining({ name: approvedName, phase: "Approved", deviceUUID: approvedUUID, decidedBy: expect.stringMatching(/^pairing-window:w-/), approvedBy: expect.objectContaining({ kind: "PairingWindow" }) })]);

    const bad = await devreg(["devices", "list", "-n", ns, "--phase", "bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('devreg: --phase: "bogus" is not one of Pending, Approved, Rejected, Deactivated');
  });

  it("deactivate <uuid> waits for the operator: Deactivated, same UUID, decidedBy admin:devreg-cli", async () => {
    const r = await devreg(["devices", "deactivate", approvedUUID, "-n", ns]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${approvedName}: Deactivated (UUID ${approvedUUID}), DeactivatedByAdmin`);
    const reg = await regs.get(approvedName);
    expect(reg.spec.deactivate).toBe(true);
    expect(reg.status).toMatchObject({ phase: "Deactivated", deviceUUID: approvedUUID, decidedBy: "admin:devreg-cli" });
  });

  it("reactivate <name> brings it back Approved with the same UUID", async () => {
    const r = await devreg(["devices", "reactivate", approvedName, "-n", ns, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: approvedName, phase: "Approved", deviceUUID: approvedUUID, reason: "Reactivated", decidedBy: "admin:devreg-cli" });
  });

  it("unknown name or UUID: one line, exit 1", async () => {
    const n = await devreg(["devices", "deactivate", "dev-nope", "-n", ns]);
    expect(n.code).toBe(1);
    expect(n.stderr.trim()).toBe(`devreg: no registration named dev-nope in ${ns} (give a name or a device UUID)`);
    const u = await devreg(["devices", "reactivate", "00000000-0000-4000-8000-000000000000", "-n", ns]);
    expect(u.code).toBe(1);
    expect(u.stderr.trim()).toBe(`devreg: no registration with UUID 00000000-0000-4000-8000-000000000000 in ${ns}`);
  });
});

describe("devreg with a bad cluster", () => {
  it("a kubeconfig path that does not exist: a specific one-line message", async () => {
    const r = await devreg(["devices", "list"], { kubeconfig: "/nonexistent/kubeconfig" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("devreg: kubeconfig /nonexistent/kubeconfig does not exist\n");
  });

  it("a kubeconfig whose server is not there: 'cannot reach', no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devreg-cli-"));
    const dead = join(dir, "kubeconfig");
    const real = readFileSync(kubeconfig, "utf8").replace(/server: https:\/\/127\.0\.0\.1:\d+/, "server: https://127.0.0.1:1");
    writeFileSync(dead, real);
    const r = await devreg(["pairing", "status"], { kubeconfig: dead });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^devreg: cannot reach the Kubernetes API \(.*ECONNREFUSED.*\); is the cluster up\?/);
  });
});

describe("devreg operator", () => {
  it("rejects a bad configuration with one readable line (exit 2)", async () => {
    const r = await devreg(["operator", "-n", ns, "--concurrency", "0", "--lease-duration", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("devreg: invalid operator configuration: concurrency:");
    expect(r.stderr).toContain('leaseDurationMs: "soon" is not a duration');
  });

  it("runs until SIGTERM, decides, then stops gracefully and releases its lease", async () => {
    await op?.stop();
    op = undefined;
    const ns2 = await freshNamespace(rest, "op-cli-run");
    const regs2 = new Registrations(rest, ns2);
    await devreg(["pairing", "on", "-n", ns2]);
    const child = spawn(
      DEVREG,
      ["--kubeconfig", kubeconfig, "operator", "-n", ns2, "--http-port", "0", "--http-host", "127.0.0.1", "--identity", "cli-op", "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBECONFIG: "" } },
    );
    children.push(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const lease = () =>
      rest.request<{ spec: { holderIdentity?: string } }>("GET", `/apis/coordination.k8s.io/v1/namespaces/${ns2}/leases/devreg-operator`);
    await waitFor("cli-op to lead", async () => (await lease()).spec.holderIdentity === "cli-op", 30_000);
    const created = await createDevice(regs2);
    await waitForPhase(regs2, created.metadata.name, "Approved");

    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect((await lease()).spec.holderIdentity).toBe("");
    // Structured pino logs: the decision and the release are there.
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; registration?: string });
    expect(lines.some((l) => l.msg === "decision" && l.registration === created.metadata.name)).toBe(true);
    expect(lines.some((l) => l.msg === "released lease")).toBe(true);
  });
});
