import { describe, expect, it } from "vitest";
import { TestDevice, closedByBroker, metric, verifiedReply, waitFor, useGatewaySuite } from "./helpers.ts";

// Deactivation: pushed to the connected device, which is then disconnected; a later
// enroll with the same key is answered "deactivated" with the kept UUID, never a new one.
const t = useGatewaySuite("deact", { pairing: true });

describe("deactivation", () => {
  it("a registration that reaches this replica already Deactivated (adopted from a dead gateway after the decision) still notifies the connected device", async () => {
    const d = new TestDevice();
    t.perTest.add(() => d.close());
    await d.connect(t.gw.mqttPort);
    expect((await d.enroll(t.gw.publicKey)).status).toBe("approved");
    const name = `dev-${d.deviceId}`;
    const relabel = (gateway: string) => t.env.regs.patch(name, { metadata: { labels: { "devices.example.com/gateway": gateway } } });
    // Owned by a gateway that is gone, and deactivated there: this replica's watch sees neither.
    await relabel("gw-dead");
    await t.env.regs.patch(name, { spec: { deactivate: true } });
    await waitFor(async () => ((await t.env.regs.get(name)).status?.phase === "Deactivated" ? true : undefined), 10_000, "Deactivated");
    expect(d.client?.connected).toBe(true);
    // Adopted by this replica (as its background adoption does): it arrives already decided.
    const pushed = d.nextReply(10_000);
    await relabel(t.gw.gatewayId);
    const notice = verifiedReply(await pushed, t.gw.publicKey, d.deviceId);
    expect(notice.status === "deactivated" || (notice.status === "error" && notice.reason === "Deactivated")).toBe(true);
  });

  it("pushes a signed notice to the connected device, disconnects it, and answers later enrolls with the same UUID", async () => {
    const d = new TestDevice();
    t.perTest.add(() => d.close());
    await d.connect(t.gw.mqttPort);
    const approved = await d.enroll(t.gw.publicKey);
    expect(approved.status).toBe("approved");

    const pushesBefore = await metric(t.gw.adminPort, "devreg_gateway_deactivation_pushes_total");
    const pushed = d.nextReply(15_000);
    const closed = closedByBroker(d.client!, 15_000);
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    const notice = verifiedReply(await pushed, t.gw.publicKey, d.deviceId, "any-request-the-device-waits-on");
    expect(notice.requestId).toBe("");
    expect(notice.deviceUUID).toBe(approved.deviceUUID);
    // The codec allows an empty requestId only on "error" replies, so the push is
    // error/Deactivated unless the codec accepts a "deactivated" status without a request.
    expect(
      notice.status === "deactivated" || (notice.status === "error" && notice.reason === "Deactivated"),
    ).toBe(true);
    await closed;
    expect(await metric(t.gw.adminPort, "devreg_gateway_deactivation_pushes_total")).toBe(pushesBefore + 1);

    await waitFor(
      async () =>
        (await t.env.regs.get(`dev-${d.deviceId}`)).status?.phase === "Deactivated" ? true : undefined,
      10_000,
      "operator marks it Deactivated",
    );
    await d.connect(t.gw.mqttPort);
    const again = await d.enroll(t.gw.publicKey);
    expect(again).toMatchObject({
      status: "deactivated",
      deviceUUID: approved.deviceUUID,
      reason: "Deactivated",
    });
  });

  it("a device that is not connected learns at its next enroll; reactivation gives back the same UUID", async () => {
    const d = new TestDevice();
    t.perTest.add(() => d.close());
    await d.connect(t.gw.mqttPort);
    const approved = await d.enroll(t.gw.publicKey);
    await d.close();
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    await waitFor(
      async () =>
        (await t.env.regs.get(`dev-${d.deviceId}`)).status?.phase === "Deactivated" ? true : undefined,
      10_000,
      "Deactivated",
    );
    await d.connect(t.gw.mqttPort);
    expect(await d.enroll(t.gw.publicKey)).toMatchObject({
      status: "deactivated",
      deviceUUID: approved.deviceUUID,
    });

    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: false } });
    const back = await waitFor(
      async () => {
        const r = await d.enroll(t.gw.publicKey);
        return r.status === "approved" ? r : undefined;
      },
      15_000,
      "reactivated",
    );
    expect(back.deviceUUID).toBe(approved.deviceUUID);
  });
});
