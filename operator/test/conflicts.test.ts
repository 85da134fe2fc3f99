import { randomUUID } from "node:crypto";
import { type DeviceRegistration, Informer, type KubeRest, Registrations, isKubeError } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type OperatorHandle, setPairing } from "../src/index.ts";
import { KeyIndex } from "../src/key-owner.ts";
import { createMetrics } from "../src/metrics.ts";
import type { PairingState } from "../src/pairing.ts";
import { Reconciler } from "../src/reconciler.ts";
import { createDevice, testOperator, waitFor } from "./helpers.ts";

let rest: KubeRest;
let kubeconfig: string;
let ns: string;
let regs: Registrations;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  ({ rest, kubeconfig } = await testKube());
  ns = await freshNamespace(rest, "op-conflict");
  regs = new Registrations(rest, ns);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rest?.close());

const OPEN: PairingState = { open: true, code: "PairingWindowOpen", reason: "open" };

describe("409 conflicts", () => {
  it("a stale read meets a concurrent status write: 409, fresh read, the other writer's UUID is kept", async () => {
    const created = await createDevice(regs);
    const stale = await regs.get(created.metadata.name);
    // A concurrent writer gets in first and records a UUID (but no decision).
    const theirs = randomUUID();
    await regs.patchStatus(created.metadata.name, { deviceUUID: theirs, message: "written by someone else" });

    const metrics = createMetrics();
    const minted: string[] = [];
    const cache = { get: () => stale } as unknown as Informer<DeviceRegistration>;
    const reconciler = new Reconciler({
      regs,
      cache,
      keyIndex: new KeyIndex(),
      pairing: () => OPEN,
      recordEvent: () => {},
      metrics,
      log: pino({ level: "silent" }),
      newUUID: () => {
        const u = randomUUID();
        minted.push(u);
        return u;
      },
      deviceIdOf: deviceIdFromPublicKey,
    });
    await reconciler.reconcile(`${ns}/${created.metadata.name}`);

    const after = await regs.get(created.metadata.name);
    expect(after.status).toMatchObject({ phase: "Approved", deviceUUID: theirs });
    // The UUID minted from the stale read never reached the apiserver.
    expect(minted).toHaveLength(1);
    expect(after.status?.deviceUUID).not.toBe(minted[0]);
    const text = await metrics.registry.metrics();
    expect(text).toContain("devreg_operator_status_conflicts_total 1");
    expect(text).toMatch(/devreg_operator_reconciles_total\{result="written"\} 1/);
  });

  it("gives up after repeated conflicts with a typed error (the queue then retries with backoff)", async () => {
    const created = await createDevice(regs);
    const stale = await regs.get(created.metadata.name);
    await regs.patchStatus(created.metadata.name, { message: "moved on" });
    // A cache AND a "fresh read" that are always stale: every write conflicts.
    const staleRegs = Object.create(regs) as Registrations;
    staleRegs.get = async () => stale;
    const reconciler = new Reconciler({
      regs: staleRegs,
      cache: { get: () => stale } as unknown as Informer<DeviceRegistration>,
      keyIndex: new KeyIndex(),
      pairing: () => OPEN,
      recordEvent: () => {},
      metrics: createMetrics(),
      log: pino({ level: "silent" }),
      newUUID: randomUUID,
      deviceIdOf: deviceIdFromPublicKey,
      maxConflictRetries: 2,
    });
    await expect(reconciler.reconcile(`${ns}/${created.metadata.name}`)).rejects.toMatchObject({ code: "E_CONFLICT_RETRIES" });
    expect((await regs.get(created.metadata.name)).status?.phase).toBeUndefined();
  });

  it("under a live concurrent status writer every registration ends Approved with exactly one UUID, ever", async () => {
    await setPairing(rest, ns, { enabled: true, forSeconds: 3600 });
    // Watch every version of every object: any UUID overwrite would show up here.
    const seen = new Map<string, Set<string>>();
    const watcher = new Informer<DeviceRegistration>(rest, { path: regs.collectionPath() });
    const track = (r: DeviceRegistration) => {
      if (!r.status?.deviceUUID) return;
      const s = seen.get(r.metadata.name) ?? new Set();
      s.add(r.status.deviceUUID);
      seen.set(r.metadata.name, s);
    };
    watcher.on("add", track);
    watcher.on("update", track);
    watcher.on("error", () => {});
    watcher.start();
    cleanups.push(() => watcher.stop());
    await watcher.waitForSync();

    // The rival: another (well-behaved, optimistic) writer that races the operator on every new object.
    let rivalWins = 0;
    const rival = new Informer<DeviceRegistration>(rest, { path: regs.collectionPath() });
    rival.on("add", (r) => {
      if (r.status?.phase || r.status?.deviceUUID) return;
      regs.patchStatus(r.metadata.name, { deviceUUID: randomUUID(), message: "rival" }, { resourceVersion: r.metadata.resourceVersion }).then(
        () => rivalWins++,
        (e) => {
          if (!isKubeError(e, "E_KUBE_CONFLICT")) throw e;
        },
      );
    });
    rival.on("error", () => {});
    rival.start();
    cleanups.push(() => rival.stop());
    await rival.waitForSync();

    const op: OperatorHandle = await testOperator(kubeconfig, ns);
    cleanups.push(() => op.stop());
    await op.waitForLeadership();
    const decided: string[] = [];
    op.onDecision((d) => decided.push(d.name));

    const names: string[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        names.push((await createDevice(regs)).metadata.name);
      }),
    );
    await waitFor("60 decisions", () => names.every((n) => decided.includes(n)), 30_000);
    await new Promise((r) => setTimeout(r, 300));

    const final = (await regs.list()).items.filter((r) => names.includes(r.metadata.name));
    expect(final.every((r) => r.status?.phase === "Approved")).toBe(true);
    for (const r of final) {
      expect(seen.get(r.metadata.name), r.metadata.name).toEqual(new Set([r.status?.deviceUUID]));
    }
    expect(decided.filter((n) => names.includes(n))).toHaveLength(60); // each decided exactly once
    const m = await op.metrics();
    const conflicts = Number(/devreg_operator_status_conflicts_total (\d+)/.exec(m)?.[1]);
    // The race is real: the rival won some writes and the operator hit (and handled) 409s.
    expect(rivalWins).toBeGreaterThan(0);
    expect(conflicts).toBeGreaterThan(0);
  });
});
