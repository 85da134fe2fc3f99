import { Duplex } from "node:stream";
import { GatewayError } from "../errors.ts";

/**
 * Incremental scanner of MQTT fixed headers [MQTT-2.2]: it follows packet boundaries in a
 * byte stream without buffering anything, and reports the first packet whose Remaining
 * Length exceeds the limit. The mqtt-packet parser Aedes uses has no size limit and would
 * buffer up to 256 MB per packet; this runs before it.
 */
export class FrameScanner {
  private state: "type" | "length" | "body" = "type";
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(readonly maxRemainingLength: number) {}

  /** Feeds a chunk; returns the offending Remaining Length, or -1 if every packet is within bounds. */
  feed(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === "type") {
        i++;
        this.state = "length";
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === "length") {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (this.length > this.maxRemainingLength) return this.length;
        if ((b & 0x80) === 0) {
          this.remaining = this.length;
          this.state = this.remaining === 0 ? "type" : "body";
        } else if (this.lengthBytes >= 4) {
          // [MQTT-2.2.3] at most four length bytes: a malformed packet.
          return Number.MAX_SAFE_INTEGER;
        }
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = "type";
      }
    }
    return -1;
  }
}

/**
 * Wraps a connection (TCP, TLS or WebSocket stream) so that a packet larger than
 * `maxRemainingLength` destroys the connection before its body is read. Writes pass
 * straight through; reading is flow-controlled from the consumer's `_read`.
 */
export function guardConnection(
  conn: Duplex,
  maxRemainingLength: number,
  onOversize: (remainingLength: number) => void,
): Duplex {
  const scanner = new FrameScanner(maxRemainingLength);
  let tripped = false;
  const guarded = new Duplex({
    read() {
      conn.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (conn.destroyed) return cb(new GatewayError("E_GW_CLOSED", "connection closed"));
      conn.write(chunk, cb);
    },
    // mqtt-packet writes one packet as several small chunks inside cork()/uncork(): hand
    // them to the socket as ONE write, or each chunk would wait for the previous one's
    // write callback and go out as its own TCP segment (measured: ~10 ms per reply under load).
    writev(chunks, cb) {
      if (conn.destroyed) return cb(new GatewayError("E_GW_CLOSED", "connection closed"));
      conn.write(
        chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer)),
        cb,
      );
    },
    final(cb) {
      conn.end();
      cb();
    },
    destroy(err, cb) {
      conn.destroy();
      cb(err);
    },
  });
  conn.on("data", (chunk: Buffer) => {
    if (tripped) return;
    const over = scanner.feed(chunk);
    if (over >= 0) {
      tripped = true;
      onOversize(over);
      conn.destroy();
      guarded.destroy(
        new GatewayError("E_GW_FRAME_TOO_LARGE", `MQTT packet of ${over} bytes exceeds the limit`),
      );
      return;
    }
    if (!guarded.push(chunk)) conn.pause();
  });
  conn.on("end", () => guarded.push(null));
  conn.on("error", (e) => guarded.destroy(e));
  conn.on("close", () => {
    if (!guarded.destroyed) guarded.destroy();
  });
  return guarded;
}
