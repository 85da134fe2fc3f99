import { PassThrough } from "node:stream";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { FrameScanner, guardConnection } from "./frame-guard.ts";

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

  it("fails closed on anything but bytes", async () => {
    const conn = new PassThrough();
    guardConnection(conn, 1024, () => {});
    const errored = new Promise<Error>((r) => conn.on("error", r));
    expect(conn.push("text" as never)).toBe(false);
    expect(await errored).toMatchObject({ code: "E_GW_FRAME_TOO_LARGE" });
  });
});
