import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEVICE_A,
  DEVICE_B,
  LoopbackServer,
  refuseWith,
  stubHooks,
  turns,
  until,
} from "../test-support/session-loopback.ts";

let lb: LoopbackServer | undefined;

afterEach(async () => {
  await lb?.stop();
  lb = undefined;
  vi.useRealTimers();
});

describe("SessionServer", () => {
  it("registers connected sessions by client id; takeover closes the older one [MQTT-3.1.4-2]", async () => {
    lb = await LoopbackServer.start(stubHooks());
    const a = await lb.open();
    const other = await lb.open();
    expect(await a.client.connect(DEVICE_A)).toMatchObject({ returnCode: 0 });
    expect(await other.client.connect(DEVICE_B)).toMatchObject({ returnCode: 0 });
    expect(lb.server.size).toBe(2);

    const b = await lb.open();
    expect(await b.client.connect(DEVICE_A)).toMatchObject({ returnCode: 0 });
    await a.client.waitClosed();
    expect(a.session.closed).toBe(true);
    expect(lb.server.get(DEVICE_A)).toBe(b.session);
    expect(lb.server.get(DEVICE_B)).toBe(other.session);
    expect(lb.server.size).toBe(2);
    // The older session ended (once) before the newer one was reported connected.
    expect(lb.events.filter((e) => e.kind !== "failed").map((e) => [e.kind, e.session])).toEqual([
      ["connected", a.session],
      ["connected", other.session],
      ["disconnected", a.session],
      ["connected", b.session],
    ]);
    // The newer session is unaffected by the older one's end.
    b.client.send({ cmd: "pingreq" });
    expect((await b.client.next()).cmd).toBe("pingresp");
    await turns();
    expect(lb.of("disconnected")).toHaveLength(1);
    expect(b.session.closed).toBe(false);
  });

  it("a refused CONNECT with a connected session's id leaves that session alone", async () => {
    let refuse = false;
    lb = await LoopbackServer.start(stubHooks({ connect: () => (refuse ? refuseWith(2) : null) }));
    const a = await lb.open();
    await a.client.connect(DEVICE_A);
    refuse = true;
    const b = await lb.open();
    expect(await b.client.connect(DEVICE_A)).toMatchObject({ returnCode: 2 });
    await b.client.waitClosed();
    expect(lb.server.get(DEVICE_A)).toBe(a.session);
    expect(a.session.closed).toBe(false);
    expect(lb.of("disconnected")).toEqual([]);
  });

  it("close() ends every connection, those that never sent CONNECT too, and refuses new ones", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    lb = await LoopbackServer.start(stubHooks(), 10_000);
    const a = await lb.open();
    await a.client.connect(DEVICE_A, { keepalive: 30 });
    const silent = await lb.open();
    expect(vi.getTimerCount()).toBe(2); // a's keepalive, silent's connect timeout
    lb.server.close();
    await a.client.waitClosed();
    await silent.client.waitClosed();
    expect(a.session.closed && silent.session.closed).toBe(true);
    expect(lb.of("disconnected").map((e) => e.session)).toEqual([a.session]);
    expect(lb.server.size).toBe(0);
    expect(lb.server.get(DEVICE_A)).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);

    const late = await lb.openRaw();
    await until(() => lb!.sessions.length === 3, "the late connection to be handled");
    expect(lb.sessions[2]).toBeUndefined();
    await late.waitClosed();
    expect(lb.of("connected")).toHaveLength(1);
  });
});
