import {
  type DeviceRegistration,
  FIELD_PHASE,
  Informer,
  LABEL_GATEWAY,
  Registrations,
  crdPath,
  installCrds,
} from "@devreg/kube";
import { setPairing } from "@devreg/operator";
import { describe, expect, it } from "vitest";
import { freshNamespace, randomPublicKeyB64 } from "../../kube/test-support/kube.ts";
import { DecisionBoard, boardSelection } from "../src/enroll/decision-board.ts";
import { startGateway } from "../src/index.ts";
import type { Decision } from "../src/enroll/decision.ts";
import {
  TEST_LOG_LEVEL,
  apiserverRequests,
  metric,
  startTestGateway,
  useGatewaySuite,
  uuid4,
  verifiedReply,
  waitFor,
} from "./helpers.ts";

// Issue 16: the gateway's one registration watch selects `status.phase!=` (the CRD's
// selectableFields), so a registration it has just created is not sent back to it. Checked on
// the real apiserver: how a missing phase selects, what the board's watch receives, and the
// enroll paths that used to read undecided registrations from the cache.
const t = useGatewaySuite("selwatch", { pairing: true });

/** A registration as the gateway would create it, labelled for `gateway`. */
function registration(gateway: string, name = `dev-${Math.random().toString(36).slice(2, 12)}`) {
  return {
    metadata: { name, labels: { [LABEL_GATEWAY]: gateway } },
    spec: { publicKey: randomPublicKeyB64() },
  };
}

const names = (items: DeviceRegistration[]) => items.map((r) => r.metadata.name).sort();

/** Registration creates the apiserver has answered 201 and 409. */
function apiserverCreates(): { created: number; conflicts: number } {
  const posts = { verb: "POST", resource: "deviceregistrations" };
  return {
    created: apiserverRequests(t.env.kubeconfig, { ...posts, code: "201" }),
    conflicts: apiserverRequests(t.env.kubeconfig, { ...posts, code: "409" }),
  };
}

describe("the selection on the real apiserver", () => {
  it('a missing status.phase selects as "": `status.phase!=` leaves out only registrations without a phase', async () => {
    const ns = await freshNamespace(t.env.rest, "gw-sel-fields");
    const regs = new Registrations(t.env.rest, ns);
    const gw = "sel-a";
    const create = async (status?: DeviceRegistration["status"], gateway = gw) => {
      const r = await regs.create(registration(gateway));
      if (status) await regs.patchStatus(r.metadata.name, status);
      return r.metadata.name;
    };
    const none = await create();
    const pending = await create({ phase: "Pending", reason: "AwaitingApproval" });
    const approved = await create({ phase: "Approved", deviceUUID: uuid4() });
    const rejected = await create({ phase: "Rejected", reason: "Denied" });
    const otherGateway = await create({ phase: "Approved", deviceUUID: uuid4() }, "sel-b");

    const list = async (query: Record<string, string>) => names((await regs.list(query)).items);
    expect(await list(boardSelection(gw))).toEqual([pending, approved, rejected].sort());
    expect(await list({ fieldSelector: `${FIELD_PHASE}=` })).toEqual([none]);
    // "Decided only" is expressible too (not what the board asks for: gateway-mqtt/README.md "Decisions").
    expect(await list({ fieldSelector: `${FIELD_PHASE}!=,${FIELD_PHASE}!=Pending` })).toEqual(
      [approved, rejected, otherGateway].sort(),
    );
    // Only declared fields can be selected on: anything else is a 400 from the apiserver.
    await expect(regs.list({ fieldSelector: "status.reason!=" })).rejects.toMatchObject({
      code: "E_KUBE_INVALID",
    });
  });

  it("the board's watch: nothing for a create, ADDED when a phase is written, DELETED when it is removed; only waiters and followers act", async () => {
    const ns = await freshNamespace(t.env.rest, "gw-sel-watch");
    const regs = new Registrations(t.env.rest, ns);
    const gw = "sel-w";
    const board = new DecisionBoard(t.env.rest, ns, gw, () => {});
    // The same label without the field selector: what the board received before (issue 16).
    const plain = new Informer<DeviceRegistration>(t.env.rest, {
      path: regs.collectionPath(),
      labelSelector: `${LABEL_GATEWAY}=${gw}`,
    });
    const seen = { board: [] as string[], plain: [] as string[], decided: [] as string[] };
    const record = (inf: Informer<DeviceRegistration>, into: string[]) => {
      inf.on("add", (o) => into.push(`add ${o.metadata.name} ${o.status?.phase ?? "-"}`));
      inf.on("update", (o) => into.push(`update ${o.metadata.name} ${o.status?.phase ?? "-"}`));
      inf.on("delete", (o) => into.push(`delete ${o.metadata.name}`));
    };
    record(board.informer, seen.board);
    record(plain, seen.plain);
    board.on("decided", (o, d) => seen.decided.push(`${o.metadata.name} ${d.status}`));
    board.informer.start();
    plain.start();
    t.perTest.add(() => board.informer.stop());
    t.perTest.add(() => plain.stop());
    await Promise.all([board.informer.waitForSync(), plain.waitForSync()]);

    const u = (await regs.create(registration(gw))).metadata.name;
    // Events come in resourceVersion order: once a later write has arrived, the create would have too.
    const sentinel = (await regs.create(registration(gw))).metadata.name;
    await regs.patchStatus(sentinel, { phase: "Pending", reason: "AwaitingApproval" });
    await waitFor(() => board.cached(sentinel), 10_000, "the sentinel in the board's cache");
    await waitFor(
      () => plain.get(`${ns}/${sentinel}`)?.status?.phase,
      10_000,
      "the sentinel in the plain cache",
    );
    expect(board.cached(u)).toBeUndefined();
    expect(seen.board).toEqual([`add ${sentinel} Pending`]);
    expect(seen.plain).toEqual([`add ${u} -`, `add ${sentinel} -`, `update ${sentinel} Pending`]);

    // The operator's first status write: the waiter and the late follower get it.
    const waited = board.wait(u, Date.now() + 15_000);
    const followed = new Promise<Decision>((resolve) =>
      board.follow(u, Date.now() + 15_000, 10, (d) => resolve(d)),
    );
    const uuid = uuid4();
    await regs.patchStatus(u, { phase: "Approved", deviceUUID: uuid });
    expect((await waited).decision).toMatchObject({ status: "approved", deviceUUID: uuid });
    expect(await followed).toMatchObject({ status: "approved", deviceUUID: uuid });
    expect(seen.board.slice(1)).toEqual([`add ${u} Approved`]);
    await waitFor(
      () => seen.plain.includes(`update ${u} Approved`) || undefined,
      10_000,
      "the plain informer's update",
    );

    // Its phase removed by hand: it leaves the selection (DELETED), still exists, and is forgotten.
    await regs.patchStatus(u, { phase: null } as never);
    await waitFor(
      () => (board.cached(u) === undefined ? true : undefined),
      10_000,
      "leaving the board's cache",
    );
    expect(seen.board.slice(2)).toEqual([`delete ${u}`]);
    expect((await regs.get(u)).status?.deviceUUID).toBe(uuid);
    // Back with a deactivation: it enters as ADDED, and the device is owed the notice.
    await regs.patchStatus(u, { phase: "Deactivated" });
    await waitFor(() => board.cached(u), 10_000, "back in the board's cache");
    expect(seen.board.slice(3)).toEqual([`add ${u} Deactivated`]);
    expect(seen.decided).toEqual([`${u} deactivated`]);
  });
});

describe("enrolling through a gateway whose cache holds only registrations with a phase", () => {
  const cached = (adminPort: number) => metric(adminPort, "devreg_gateway_registrations_cached");

  it("auto mode: a device enrolls; its approved registration is the one cached", async () => {
    const gw = await startTestGateway(t.env, t.perTest);
    const d = t.device();
    await d.connect(gw.mqttPort);
    const reply = await d.enroll(gw.publicKey);
    expect(reply.status).toBe("approved");
    expect(await cached(gw.adminPort)).toBe(1);
    // Its re-enroll is answered from the cache: no create at all.
    const before = apiserverCreates();
    expect(await d.enroll(gw.publicKey)).toMatchObject({
      status: "approved",
      deviceUUID: reply.deviceUUID,
      reason: "AlreadyEnrolled",
    });
    expect(apiserverCreates()).toEqual(before);
  });

  it("manual mode: pending AwaitingApproval (from the cache), then the admin's approval is pushed with the same requestId", async () => {
    await setPairing(t.env.rest, t.env.ns, { enabled: true, mode: "manual" });
    t.perTest.add(() => setPairing(t.env.rest, t.env.ns, { enabled: true }));
    const gw = await startTestGateway(t.env, t.perTest, { decisionTimeoutMs: 4_000 });
    const d = t.device();
    await d.connect(gw.mqttPort);
    const { frame, requestId } = d.request();
    const first = d.nextReply();
    await d.publishRaw(frame);
    expect(verifiedReply(await first, gw.publicKey, d.deviceId, requestId)).toMatchObject({
      status: "pending",
      reason: "AwaitingApproval",
    });
    expect(await cached(gw.adminPort)).toBe(1);

    const later = d.nextReply();
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { approval: "Approve" } });
    const pushed = verifiedReply(await later, gw.publicKey, d.deviceId, requestId);
    expect(pushed).toMatchObject({ status: "approved", requestId });
    expect(pushed.deviceUUID).toMatch(/^[0-9a-f-]{36}$/);
    expect(await metric(gw.adminPort, "devreg_gateway_late_decision_pushes_total")).toBe(1);
  });

  it("no operator: pending, not cached; the re-enroll goes create → 409 → GET and is answered when the phase comes", async () => {
    const quiet = await freshNamespace(t.env.rest, "gw-sel-quiet");
    await setPairing(t.env.rest, quiet, { enabled: true });
    const regs = new Registrations(t.env.rest, quiet);
    const gw = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.perTest, {
      decisionTimeoutMs: 6_000,
    });
    const d = t.device();
    await d.connect(gw.mqttPort);
    const first = d.request();
    const firstReply = d.nextReply();
    await d.publishRaw(first.frame);
    expect(verifiedReply(await firstReply, gw.publicKey, d.deviceId, first.requestId)).toMatchObject({
      status: "pending",
      reason: "Pending",
    });
    expect(await cached(gw.adminPort)).toBe(0);

    // The device retries: no cache hit, so a create that gets 409 (no new object), then a GET;
    // the registration is this replica's own, so the request waits for the phase.
    const before = apiserverCreates();
    const second = d.request();
    const replies = [d.nextReply(), d.nextReply()];
    await d.publishRaw(second.frame);
    await waitFor(
      () => (apiserverCreates().conflicts > before.conflicts ? true : undefined),
      5_000,
      "the 409",
    );
    expect(apiserverCreates().created).toBe(before.created);
    const uuid = uuid4();
    await regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid });
    // The retry's answer, and the late push owed to the first request (SPEC §14.3), in either order.
    const got = await Promise.all(replies.map(async (r) => verifiedReply(await r, gw.publicKey, d.deviceId)));
    expect(got.map((r) => r.requestId).sort()).toEqual([first.requestId, second.requestId].sort());
    for (const r of got) expect(r).toMatchObject({ status: "approved", deviceUUID: uuid });
    expect(await cached(gw.adminPort)).toBe(1);
  });
});

describe("upgrade order", () => {
  // Last in this file: it changes the shared CRD for a moment, and puts crds/'s back.
  it("against a CRD without selectableFields the gateway does not start, and says why", async () => {
    const name = "deviceregistrations.devices.example.com";
    type Crd = { metadata: { resourceVersion?: string }; spec: { versions: Array<Record<string, unknown>> } };
    const crd = await t.env.rest.request<Crd>("GET", crdPath(name));
    for (const v of crd.spec.versions) delete v.selectableFields;
    try {
      await t.env.rest.request("PUT", crdPath(name), { body: crd });
      await waitFor(
        () =>
          t.env.regs.list({ fieldSelector: `${FIELD_PHASE}!=` }).then(
            () => undefined,
            () => true,
          ),
        10_000,
        "the apiserver to drop the selectable field",
      );
      await expect(
        startGateway({
          kubeconfig: t.env.kubeconfig,
          namespace: t.env.ns,
          gatewayId: "gw-old-crd",
          mqtt: { host: "127.0.0.1", port: 0 },
          http: false,
          admin: { host: "127.0.0.1", port: 0 },
          syncTimeoutMs: 1_500,
          logLevel: TEST_LOG_LEVEL,
        }),
      ).rejects.toMatchObject({
        code: "E_GW_KUBE_UNAVAILABLE",
        message: expect.stringContaining("field label not supported: status.phase"),
      });
    } finally {
      await installCrds(t.env.rest);
      await waitFor(
        () =>
          t.env.regs.list({ fieldSelector: `${FIELD_PHASE}!=` }).then(
            () => true,
            () => undefined,
          ),
        20_000,
        "the selectable field back",
      );
    }
  });
});
