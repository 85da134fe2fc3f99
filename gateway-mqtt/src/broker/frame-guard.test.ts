import net from "node:net";
import { PassThrough } from "node:stream";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { FrameScanner, OVER_PACKET_RATE, guardConnection } from "./frame-guard.ts";

function publish(payloadBytes: number): Buffer {
  return mqttPacket.generate({
    cmd: "publish",
    topic: "devreg/v1/00000000000000000000000000000000/enroll",
    payload: Buffer.alloc(payloadBytes, 7),
    qos: 1,
    messageId: 1,
    retain: false,
    dup: false,
  });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 5_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe("FrameScanner", () => {
  it("passes packets within the limit however the stream is split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (sizes, cuts) => {
          const s = new FrameScanner(1024);
          const stream = Buffer.concat([...sizes.map(publish), mqttPacket.generate({ cmd: "pingreq" })]);
          return splitAt(stream, cuts).every((chunk) => s.feed(chunk) === -1);
        },
      ),
    );
  });

  it("flags the first oversized packet however the stream is split, before its body", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1100, max: 70_000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (size, cuts) => {
          const s = new FrameScanner(1024);
          const stream = Buffer.concat([publish(10), publish(size)]);
          const header = publish(10).length + 5; // the big packet's fixed header is at most 5 bytes
          let flagged = -1;
          let consumed = 0;
          for (const chunk of splitAt(stream, cuts)) {
            const r = s.feed(chunk);
            if (r >= 0) {
              flagged = r;
              break;
            }
            consumed += chunk.length;
          }
          return flagged > 1024 && consumed < header + 1;
        },
      ),
    );
  });

  it("flags a length field of more than four bytes as malformed", () => {
    const s = new FrameScanner(Number.MAX_SAFE_INTEGER);
    expect(s.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toBeGreaterThan(0);
  });
});

describe("guardConnection", () => {
  it("destroys a connection past its packet budget before the packet that overran it is read", async () => {
    const conn = new PassThrough();
    let overRate = 0;
    guardConnection(conn, 1024, () => {}, {
      packets: { ratePerSecond: 0.001, burst: 5 },
      onOverRate: () => overRate++,
    });
    const errored = new Promise<Error>((r) => conn.on("error", r));
    const seen: Buffer[] = [];
    conn.on("data", (c: Buffer) => seen.push(c));
    const ping = mqttPacket.generate({ cmd: "pingreq" });
    conn.push(Buffer.concat([ping, ping, ping]));
    conn.push(Buffer.concat([ping, ping]));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(seen).length).toBe(5 * ping.length); // the budget's five
    conn.push(Buffer.concat(Array.from({ length: 1000 }, () => ping)));
    expect(await errored).toMatchObject({ code: "E_GW_PACKET_RATE" });
    expect(overRate).toBe(1);
    expect(conn.destroyed).toBe(true);
    expect(Buffer.concat(seen).length).toBe(5 * ping.length); // none of the flood reached the reader
  });

  it("counts packets, not chunks: a packet split over many reads costs one token", () => {
    let taken = 0;
    const s = new FrameScanner(4096, { tryTake: () => ++taken <= 2 });
    const p = publish(300);
    for (const b of p) expect(s.feed(Uint8Array.of(b))).toBe(-1);
    expect(taken).toBe(1);
    expect(s.feed(p)).toBe(-1);
    expect(s.feed(p)).toBe(OVER_PACKET_RATE);
  });

  for (const mode of ["read()", "flowing"] as const) {
    it(`checks every chunk before a reader sees it (${mode}) and destroys the connection on an oversized packet`, async () => {
      const conn = new PassThrough();
      let oversize = 0;
      const guarded = guardConnection(conn, 1024, (n) => {
        oversize = n;
      });
      expect(guarded).toBe(conn);
      const errored = new Promise<Error>((r) => guarded.on("error", r));
      const seen: Buffer[] = [];
      if (mode === "flowing") guarded.on("data", (c: Buffer) => seen.push(c));
      else
        guarded.on("readable", () => {
          for (let c = guarded.read(); c !== null; c = guarded.read()) seen.push(c as Buffer);
        });
      conn.write(publish(10));
      await new Promise((r) => setImmediate(r));
      expect(Buffer.concat(seen)).toEqual(publish(10));
      conn.write(publish(5000));
      const err = await errored;
      expect(err).toMatchObject({ code: "E_GW_FRAME_TOO_LARGE" });
      expect(oversize).toBeGreaterThan(5000);
      expect(conn.destroyed).toBe(true);
      expect(Buffer.concat(seen)).toEqual(publish(10));
    });
  }

  it("hands readers whole packets only, however the stream is split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (sizes, cuts) => {
          const packets = [...sizes.map(publish), mqttPacket.generate({ cmd: "pingreq" })];
          const stream = Buffer.concat(packets);
          const conn = new PassThrough();
          guardConnection(conn, 1024, () => {});
          const seen: Buffer[] = [];
          conn.on("data", (c: Buffer) => seen.push(c));
          for (const chunk of splitAt(stream, cuts)) conn.push(chunk);
          // Every chunk a reader sees ends where a packet ends, and nothing is lost or added.
          const ends = new Set(packets.map((_, i) => Buffer.concat(packets.slice(0, i + 1)).length));
          let at = 0;
          for (const c of seen) {
            at += c.length;
            if (!ends.has(at)) return false;
          }
          return Buffer.concat(seen).equals(stream);
        },
      ),
    );
  });

  it("holds a packet sent one byte per TCP segment until it is whole: the reader gets one chunk", async () => {
    const tcp = net.createServer();
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const accepted = new Promise<net.Socket>((r) => tcp.once("connection", r));
    const client = net.connect((tcp.address() as net.AddressInfo).port, "127.0.0.1");
    client.setNoDelay(true);
    const server = guardConnection(await accepted, 4096, () => {});
    let reads = 0;
    server.prependListener("data", () => reads++); // counts what the guard lets through
    const seen: Buffer[] = [];
    server.on("data", (c: Buffer) => seen.push(c));
    const packet = publish(4000);
    for (const byte of packet.subarray(0, -1)) {
      client.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([]); // thousands of reads, none of them handed on
    client.write(packet.subarray(-1));
    await until(() => seen.length > 0);
    expect(reads).toBe(1);
    expect(seen).toEqual([packet]);
    client.destroy();
    await new Promise<void>((r) => tcp.close(() => r()));
  });

  it("fails closed on anything but bytes", async () => {
    const conn = new PassThrough();
    guardConnection(conn, 1024, () => {});
    const errored = new Promise<Error>((r) => conn.on("error", r));
    expect(conn.push("text" as never)).toBe(false);
    expect(await errored).toMatchObject({ code: "E_GW_FRAME_TOO_LARGE" });
  });
});
