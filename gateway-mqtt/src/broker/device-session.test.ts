import type net from "node:net";
import { replyTopic } from "@devreg/protocol";
import mqttPacket, { type IPublishPacket, type Packet } from "mqtt-packet";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isGatewayError } from "../errors.ts";
import {
  DEVICE_A,
  LoopbackServer,
  type RawClient,
  type StubHooks,
  connectPacket,
  refuseWith,
  requestPacket,
  stubHooks,
  turns,
  until,
} from "../test-support/session-loopback.ts";
import { SUBACK_FAILURE, type SessionHooks } from "./device-session.ts";

let lb: LoopbackServer | undefined;
let hooks: StubHooks;

async function start(over: Partial<SessionHooks> = {}, connectTimeoutMs?: number): Promise<LoopbackServer> {
  hooks = stubHooks(over);
  lb = await LoopbackServer.start(hooks, connectTimeoutMs);
  return lb;
}

afterEach(async () => {
  await lb?.stop();
  lb = undefined;
  vi.useRealTimers();
});

const codeOf = (err: Error | undefined): string | undefined => (err as { code?: string } | undefined)?.code;
const REPLY = replyTopic(DEVICE_A);
const size = (p: Packet): number => mqttPacket.generate(p).length;

describe("DeviceSession: CONNECT", () => {
  it("accepts a CONNECT: `connected` (registered) before the CONNACK 0 is written", async () => {
    const { client, session } = await (await start()).open();
    expect(await client.connect()).toMatchObject({ cmd: "connack", returnCode: 0, sessionPresent: false });
    const connected = lb!.of("connected");
    expect(connected).toHaveLength(1);
    expect(connected[0]!.session).toBe(session);
    // Nothing was on the socket yet when `connected` ran: the CONNACK follows the registration.
    expect(connected[0]!.written).toBe(0);
    expect(session).toMatchObject({ id: DEVICE_A, connected: true, closed: false });
    expect(lb!.server.get(DEVICE_A)).toBe(session);
    expect(lb!.of("failed")).toEqual([]);
  });

  it("keeps nothing for CleanSession=0: Session Present 0, and a reconnect starts unsubscribed [PROTO-5 rule 5]", async () => {
    await start();
    const first = await lb!.open();
    expect(await first.client.connect(DEVICE_A, { clean: false })).toMatchObject({
      cmd: "connack",
      returnCode: 0,
      sessionPresent: false,
    });
    first.client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: REPLY, qos: 1 }] });
    expect(await first.client.next()).toMatchObject({ cmd: "suback", granted: [1] });
    expect(first.session.replyQos).toBe(1);
    first.client.send({ cmd: "disconnect" });
    await first.client.waitClosed();
    const second = await lb!.open();
    expect(await second.client.connect(DEVICE_A, { clean: false })).toMatchObject({ sessionPresent: false });
    expect(second.session.replyQos).toBeUndefined();
  });

  it("refuses a CONNECT with the hook's return code, then closes; never `connected`", async () => {
    const { client, session } = await (await start({ connect: () => refuseWith(5) })).open();
    expect(await client.connect()).toMatchObject({ cmd: "connack", returnCode: 5 });
    await client.waitClosed();
    expect(client.packets).toHaveLength(1);
    expect(session.closed).toBe(true);
    expect(lb!.of("connected")).toEqual([]);
    expect(lb!.of("disconnected")).toEqual([]);
    expect(codeOf(lb!.of("failed")[0]?.err)).toBe("E_GW_REFUSED");
    expect(lb!.server.get(DEVICE_A)).toBeUndefined();
  });

  it("answers an MQTT 5 CONNECT with CONNACK 1 and closes, even when the hooks accept it", async () => {
    const { client, session } = await (await start()).open();
    client.send(connectPacket(DEVICE_A, { protocolVersion: 5 }));
    expect(await client.next()).toMatchObject({ cmd: "connack", returnCode: 1 });
    await client.waitClosed();
    expect(hooks.calls.connect).toBe(1);
    expect(session.connected).toBe(false);
    expect(lb!.of("connected")).toEqual([]);
  });

  it("reads nothing after a refused CONNECT: a pipelined second CONNECT is not decided [MQTT-3.2.2-5]", async () => {
    // The first CONNECT is refused, any later one would be accepted.
    await start({ connect: () => (hooks.calls.connect === 1 ? refuseWith(5) : null) });
    const { client } = await lb!.open();
    client.send(connectPacket(), connectPacket(), requestPacket(DEVICE_A, 1));
    await client.waitClosed();
    expect(client.packets.map((p) => [p.cmd, (p as { returnCode?: number }).returnCode])).toEqual([
      ["connack", 5],
    ]);
    expect(hooks.calls.connect).toBe(1);
    expect(hooks.calls.publish).toBe(0);
    expect(lb!.of("connected")).toEqual([]);
    expect(lb!.of("request")).toEqual([]);
  });

  it("reads nothing after an MQTT 5 CONNECT either", async () => {
    const { client } = await (await start()).open();
    client.send(connectPacket(DEVICE_A, { protocolVersion: 5 }), connectPacket());
    await client.waitClosed();
    expect(client.packets.map((p) => [p.cmd, (p as { returnCode?: number }).returnCode])).toEqual([
      ["connack", 1],
    ]);
    expect(hooks.calls.connect).toBe(1);
    expect(lb!.of("connected")).toEqual([]);
  });

  it.each<[string, Packet]>([
    ["PINGREQ", { cmd: "pingreq" }],
    ["PUBLISH", requestPacket(DEVICE_A, 7)],
    ["SUBSCRIBE", { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: REPLY, qos: 1 }] }],
  ])("closes a connection whose first packet is a %s, not a CONNECT", async (_name, packet) => {
    const { client, session } = await (await start()).open();
    client.send(packet);
    await client.waitClosed();
    expect(client.packets).toEqual([]);
    expect(session.closed).toBe(true);
    expect(codeOf(lb!.of("failed")[0]?.err)).toBe("E_GW_PROTOCOL");
    expect(hooks.calls).toEqual({ connect: 0, publish: 0, subscribe: 0, forward: 0 });
    expect(lb!.of("request")).toEqual([]);
  });

  it("closes the connection on a second CONNECT; the session ends once", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send(connectPacket());
    await client.waitClosed();
    expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
    expect(hooks.calls.connect).toBe(1);
    expect(codeOf(lb!.of("failed")[0]?.err)).toBe("E_GW_PROTOCOL");
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
    expect(lb!.server.get(DEVICE_A)).toBeUndefined();
  });
});

describe("DeviceSession: timers", () => {
  it("closes a connection that sends no CONNECT within the connect timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { client, session } = await (await start({}, 1_000)).open();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    await turns();
    expect(session.closed).toBe(false);
    vi.advanceTimersByTime(1);
    await client.waitClosed();
    expect(session.closed).toBe(true);
    const failed = lb!.of("failed");
    expect(failed).toHaveLength(1);
    expect(isGatewayError(failed[0]!.err, "E_GW_CONNECT_TIMEOUT")).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a CONNECT stops the connect timer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { client, session } = await (await start({}, 1_000)).open();
    await client.connect(DEVICE_A, { keepalive: 0 });
    expect(vi.getTimerCount()).toBe(0); // keepalive 0: no timer at all [MQTT-3.1.2-10]
    vi.advanceTimersByTime(60_000);
    await turns();
    expect(session.closed).toBe(false);
  });

  it("closes a session silent for 1.5 keepalive periods; each packet (PINGREQ) restarts the period", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { client, session } = await (await start({}, 1_000)).open();
    await client.connect(DEVICE_A, { keepalive: 2 }); // 3 s without a packet end it
    vi.advanceTimersByTime(2_000);
    client.send({ cmd: "pingreq" });
    expect(await client.next()).toMatchObject({ cmd: "pingresp" });
    vi.advanceTimersByTime(2_999); // 5 s after CONNECT, 2.999 s after the PINGREQ
    await turns();
    expect(session.closed).toBe(false);
    expect(lb!.of("failed")).toEqual([]);
    vi.advanceTimersByTime(1);
    await client.waitClosed();
    expect(isGatewayError(lb!.of("failed")[0]?.err, "E_GW_KEEPALIVE")).toBe(true);
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each<[string, (c: RawClient) => void]>([
    ["DISCONNECT", (c) => c.send({ cmd: "disconnect" })],
    ["half-close", (c) => c.sock.end()],
    ["reset", (c) => c.sock.resetAndDestroy()],
  ])("leaves no timer behind after %s", async (_name, end) => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { client, session } = await (await start({}, 1_000)).open();
    await client.connect(DEVICE_A, { keepalive: 60 });
    expect(vi.getTimerCount()).toBe(1);
    end(client);
    await until(() => session.closed, "the session to close");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind after a refused CONNECT", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { client, session } = await (await start({ connect: () => refuseWith(2) }, 1_000)).open();
    await client.connect(DEVICE_A, { keepalive: 60 });
    await until(() => session.closed, "the session to close");
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("DeviceSession: SUBSCRIBE and UNSUBSCRIBE", () => {
  it("grants each filter what the hook says (0x80 refused) and remembers the reply QoS", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send({
      cmd: "subscribe",
      messageId: 42,
      subscriptions: [
        { topic: REPLY, qos: 1 },
        { topic: "devreg/v1/#", qos: 0 },
      ],
    });
    expect(await client.next()).toMatchObject({ cmd: "suback", messageId: 42, granted: [1, SUBACK_FAILURE] });
    expect(session.replyQos).toBe(1);
    expect(session.closed).toBe(false);
  });

  it("closes on a SUBSCRIBE or UNSUBSCRIBE without filters [MQTT-3.8.3-3]", async () => {
    for (const bytes of [
      [0x82, 0x02, 0x00, 0x02],
      [0xa2, 0x02, 0x00, 0x02],
    ]) {
      const { client } = await (await start()).open();
      await client.connect();
      client.sendBytes(Buffer.from(bytes));
      await client.waitClosed();
      expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
      expect(hooks.calls.subscribe).toBe(0);
      await lb!.stop();
    }
  });

  it.each([9, 1000])(
    "closes on a SUBSCRIBE or UNSUBSCRIBE with %i filters (1 to 8 allowed), asking no hook",
    async (n) => {
      for (const cmd of ["subscribe", "unsubscribe"] as const) {
        const { client } = await (await start()).open();
        await client.connect();
        const topics = Array.from({ length: n }, (_, i) => `${REPLY}${i}`);
        client.send(
          (cmd === "subscribe"
            ? { cmd, messageId: 2, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) }
            : { cmd, messageId: 2, unsubscriptions: topics }) as Packet,
        );
        await client.waitClosed();
        expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
        expect(hooks.calls.subscribe).toBe(0);
        expect(codeOf(lb!.of("failed")[0]?.err)).toBe("E_GW_PROTOCOL");
        await lb!.stop();
      }
    },
  );

  it("a refused filter alone grants nothing", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "#", qos: 1 }] });
    expect(await client.next()).toMatchObject({ cmd: "suback", messageId: 3, granted: [SUBACK_FAILURE] });
    expect(session.replyQos).toBeUndefined();
  });

  it("UNSUBSCRIBE of another topic keeps the reply QoS; of the reply topic clears it (UNSUBACK each)", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: REPLY, qos: 0 }] });
    expect(await client.next()).toMatchObject({ cmd: "suback", granted: [0] });
    expect(session.replyQos).toBe(0);
    client.send({ cmd: "unsubscribe", messageId: 2, unsubscriptions: ["other/topic"] });
    expect(await client.next()).toMatchObject({ cmd: "unsuback", messageId: 2 });
    expect(session.replyQos).toBe(0);
    client.send({ cmd: "unsubscribe", messageId: 3, unsubscriptions: [REPLY] });
    expect(await client.next()).toMatchObject({ cmd: "unsuback", messageId: 3 });
    expect(session.replyQos).toBeUndefined();
  });
});

describe("DeviceSession: PUBLISH from the device", () => {
  it("CONNECT, SUBSCRIBE and three requests in one write: each PUBACK goes out before its request event, in order", async () => {
    const { client, session } = await (await start()).open();
    const requests = [requestPacket(DEVICE_A, 11), requestPacket(DEVICE_A, 12), requestPacket(DEVICE_A, 13)];
    const subscribe: Packet = { cmd: "subscribe", messageId: 10, subscriptions: [{ topic: REPLY, qos: 1 }] };
    client.send(connectPacket(), subscribe, ...requests);
    const got: Packet[] = [];
    for (let i = 0; i < 5; i++) got.push(await client.next());
    expect(got.map((p) => [p.cmd, p.messageId])).toEqual([
      ["connack", undefined],
      ["suback", 10],
      ["puback", 11],
      ["puback", 12],
      ["puback", 13],
    ]);
    const seen = lb!.of("request");
    expect(seen.map((e) => [e.session, e.packet.messageId, e.packet.payload.toString()])).toEqual(
      requests.map((r) => [session, r.messageId, r.payload.toString()]),
    );
    // Bytes on the socket when each request event ran: its PUBACK was already written.
    const before =
      size({ cmd: "connack", returnCode: 0, sessionPresent: false }) +
      size({ cmd: "suback", messageId: 10, granted: [1] });
    const puback = size({ cmd: "puback", messageId: 11 });
    expect(seen.map((e) => e.written)).toEqual([1, 2, 3].map((n) => before + n * puback));
  });

  it("a QoS 0 request gets no PUBACK and still becomes a request", async () => {
    const { client } = await (await start()).open();
    client.send(connectPacket(), requestPacket(DEVICE_A, 1, 0), { cmd: "pingreq" });
    expect((await client.next()).cmd).toBe("connack");
    expect((await client.next()).cmd).toBe("pingresp");
    expect(lb!.of("request")).toHaveLength(1);
  });

  it("a refused PUBLISH closes the connection without PUBACK or request", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send({ ...requestPacket(DEVICE_A, 5), topic: replyTopic(DEVICE_A) }, requestPacket(DEVICE_A, 6));
    await client.waitClosed();
    expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
    expect(hooks.calls.publish).toBe(1);
    expect(lb!.of("request")).toEqual([]);
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
  });

  it("closes on a QoS 2 PUBLISH even when the hooks let it through: no PUBREC, no request", async () => {
    const { client } = await (await start()).open();
    await client.connect();
    client.send({ ...requestPacket(DEVICE_A, 7), qos: 2 } as Packet);
    await client.waitClosed();
    expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
    expect(hooks.calls.publish).toBe(1);
    expect(lb!.of("request")).toEqual([]);
    expect(codeOf(lb!.of("failed")[0]?.err)).toBe("E_GW_PROTOCOL");
  });

  it("a packet the session fails to handle ends that session, not the process", async () => {
    const { client } = await (
      await start({
        subscribe: () => {
          throw new Error("hook bug");
        },
      })
    ).open();
    await client.connect();
    client.send({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: REPLY, qos: 1 }] });
    await client.waitClosed();
    expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
    expect(lb!.of("failed").map((e) => e.err?.message)).toContain("hook bug");
  });

  it("emits no request when sending its PUBACK closed the session (slow reader)", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    const sock = session.conn as net.Socket;
    sock.cork(); // from here every byte the session sends stays in writableLength
    const filler = mqttPacket.generate({
      cmd: "publish",
      topic: REPLY,
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    }).length;
    // Fill to 2 bytes under the 64 KiB limit; the 4-byte PUBACK then crosses it.
    const payload = Buffer.alloc(64 * 1024 - 2 - filler - 2); // -2: a 3-byte instead of a 1-byte length
    const sent: Array<Error | undefined> = [];
    session.publish(REPLY, payload, 0, (err) => sent.push(err));
    expect(session.conn.writableLength).toBe(64 * 1024 - 2);
    client.send(requestPacket(DEVICE_A, 9));
    await until(() => session.closed, "the session to close");
    expect(isGatewayError(lb!.of("failed")[0]?.err, "E_GW_SLOW_READER")).toBe(true);
    expect(hooks.calls.publish).toBe(1);
    expect(lb!.of("request")).toEqual([]);
    await until(() => sent.length > 0, "the corked publish's callback");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(Error);
  });
});

describe("DeviceSession: PUBLISH to the device", () => {
  it("delivers QoS 1 with a message id, never retained, and calls back once written", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    const done: Array<Error | undefined> = [];
    session.publish(REPLY, Buffer.from("reply one"), 1, (err) => done.push(err));
    session.publish(REPLY, Buffer.from("reply two"), 1, (err) => done.push(err));
    const one = (await client.next()) as IPublishPacket;
    const two = (await client.next()) as IPublishPacket;
    expect(one).toMatchObject({ cmd: "publish", topic: REPLY, qos: 1, retain: false, dup: false });
    expect(one.payload.toString()).toBe("reply one");
    expect(one.messageId).toBeGreaterThan(0);
    expect(two.messageId).not.toBe(one.messageId);
    await until(() => done.length === 2, "both callbacks");
    expect(done).toEqual([undefined, undefined]);
    // The device's PUBACK for it is taken quietly.
    client.send({ cmd: "puback", messageId: one.messageId }, { cmd: "pingreq" });
    expect((await client.next()).cmd).toBe("pingresp");
    expect(session.closed).toBe(false);
  });

  it("delivers QoS 0 without a message id", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    session.publish(REPLY, Buffer.from("q0"), 0, () => {});
    const p = (await client.next()) as IPublishPacket;
    expect(p).toMatchObject({ cmd: "publish", topic: REPLY, qos: 0, retain: false });
    expect(p.messageId).toBeUndefined();
  });

  it("refuses what hooks.forward refuses, and sends nothing", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    const done: Array<Error | undefined> = [];
    session.publish(replyTopic("fedcba9876543210fedcba9876543210"), Buffer.from("x"), 1, (err) =>
      done.push(err),
    );
    expect(hooks.calls.forward).toBe(1);
    expect(codeOf(done[0])).toBe("E_GW_REFUSED");
    client.send({ cmd: "pingreq" });
    expect((await client.next()).cmd).toBe("pingresp"); // the PINGRESP is the first thing it got
  });

  it("refuses before CONNECT and after close, without asking forward", async () => {
    const { client, session } = await (await start()).open();
    const done: Array<Error | undefined> = [];
    session.publish(REPLY, Buffer.from("x"), 1, (err) => done.push(err));
    await client.connect();
    client.send({ cmd: "disconnect" });
    await client.waitClosed();
    session.publish(REPLY, Buffer.from("y"), 0, (err) => done.push(err));
    expect(done.map(codeOf)).toEqual(["E_GW_CLOSED", "E_GW_CLOSED"]);
    expect(hooks.calls.forward).toBe(0);
    expect(client.packets.map((p) => p.cmd)).toEqual(["connack"]);
  });

  it("closes a client that does not read once more than 64 KiB are unsent; every callback runs once", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.sock.pause(); // the client stops reading; the kernel buffers fill, then the session's
    const payload = Buffer.alloc(16 * 1024, 1);
    let published = 0;
    const done: Array<Error | undefined> = [];
    while (!session.closed && published < 4_000) {
      session.publish(REPLY, payload, 1, (err) => done.push(err));
      published++;
      if (published % 16 === 0) await turns(1);
    }
    expect(session.closed).toBe(true);
    const failed = lb!.of("failed");
    expect(failed).toHaveLength(1);
    expect(isGatewayError(failed[0]!.err, "E_GW_SLOW_READER")).toBe(true);
    expect(failed[0]!.unsent).toBeGreaterThan(64 * 1024);
    expect(failed[0]!.unsent).toBeLessThanOrEqual(64 * 1024 + payload.length + 200);
    await until(() => done.length === published, "every publish callback");
    await turns();
    expect(done).toHaveLength(published);
    expect(done.at(-1)).toBeInstanceOf(Error); // the unsent tail failed
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
  });
});

describe("DeviceSession: ending", () => {
  it("DISCONNECT closes cleanly: one `disconnected`, no `failed`", async () => {
    const { client, session } = await (await start()).open();
    await client.connect();
    client.send({ cmd: "disconnect" });
    await client.waitClosed();
    await turns();
    expect(session.closed).toBe(true);
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
    expect(lb!.of("failed")).toEqual([]);
    expect(lb!.server.get(DEVICE_A)).toBeUndefined();
  });

  it("packets after DISCONNECT in the same write are not acted on", async () => {
    const { client } = await (await start()).open();
    client.send(connectPacket(), { cmd: "disconnect" }, requestPacket(DEVICE_A, 1));
    await client.waitClosed();
    expect(hooks.calls.publish).toBe(0);
    expect(lb!.of("request")).toEqual([]);
  });

  it.each<[string, Packet[]]>([
    ["a packet before CONNECT", []],
    ["a refused CONNECT", [connectPacket(DEVICE_A, { clientId: "refuse-me" })]],
    ["DISCONNECT", [connectPacket(), { cmd: "disconnect" }]],
  ])(
    "reads no further into a write once the session ended (%s): the rest of it is not parsed",
    async (_name, head) => {
      // Count every packet the session's parser emits, whoever listens.
      const real = mqttPacket.parser;
      const emitted: string[] = [];
      const spy = vi.spyOn(mqttPacket, "parser").mockImplementation((opts) => {
        const parser = real(opts);
        const emit = parser.emit.bind(parser);
        parser.emit = (event: string | symbol, ...args: unknown[]) => {
          if (event === "packet") emitted.push((args[0] as Packet).cmd);
          return emit(event, ...args);
        };
        return parser;
      });
      try {
        const { client, session } = await (
          await start({ connect: (s) => (s.id === "refuse-me" ? refuseWith(5) : null) })
        ).open();
        const flood = Buffer.alloc(20_000, Buffer.from([0xc0, 0x00])); // 10,000 PINGREQs
        client.sendBytes(Buffer.concat([...head.map((p) => mqttPacket.generate(p)), flood]));
        await client.waitClosed();
        expect(session.closed).toBe(true);
        // The packet that ended the session, and at most the one after it; not 10,000.
        expect(emitted.length).toBeLessThanOrEqual(head.length + 2);
        expect(client.packets.filter((p) => p.cmd === "pingresp")).toEqual([]);
      } finally {
        spy.mockRestore();
      }
    },
  );

  it.each([
    ["an invalid packet type after CONNECT", true],
    ["an invalid packet type before CONNECT", false],
  ])("garbage bytes (%s) fail and close the connection", async (_name, connectFirst) => {
    const { client, session } = await (await start()).open();
    if (connectFirst) await client.connect();
    client.sendBytes(Buffer.from([0x00, 0x00, 0x00, 0x00])); // packet type 0 is reserved
    await client.waitClosed();
    expect(session.closed).toBe(true);
    expect(lb!.of("failed")).toHaveLength(1);
    expect(lb!.of("disconnected")).toHaveLength(connectFirst ? 1 : 0);
    expect(lb!.of("request")).toEqual([]);
  });

  it.each<[string, ((s: net.Socket) => void) | null, number[]]>([
    ["the peer half-closes", (s) => s.end(), [0]],
    ["the peer resets the connection", (s) => s.resetAndDestroy(), [0, 1]], // ECONNRESET, or only EOF
    ["the socket errors", null, [1]],
  ])("`disconnected` fires exactly once when %s", async (_name, end, failures) => {
    const { client, session } = await (await start()).open();
    await client.connect();
    if (end) end(client.sock);
    else session.conn.emit("error", new Error("injected socket error"));
    await until(() => session.closed, "the session to close");
    await client.waitClosed();
    await turns();
    expect(lb!.of("disconnected").map((e) => e.session)).toEqual([session]);
    expect(failures).toContain(lb!.of("failed").length);
    // Nothing is written once closed.
    const done: Array<Error | undefined> = [];
    session.publish(REPLY, Buffer.from("late"), 1, (err) => done.push(err));
    expect(codeOf(done[0])).toBe("E_GW_CLOSED");
  });
});
