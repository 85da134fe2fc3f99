import type { Duplex } from "node:stream";
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
 * Guards a connection (TCP, TLS or WebSocket stream) in place: every chunk Aedes reads
 * (`conn.read()`, on "readable") passes the scanner first, and a packet larger than
 * `maxRemainingLength` destroys the connection before its body reaches mqtt-packet's parser.
 * No wrapper stream: an earlier Duplex wrapper cost each connection a second pair of stream
 * states and every packet an extra stream hop; writes now go straight to the socket, whose
 * own writev keeps mqtt-packet's corked chunks in one TCP segment.
 */
export function guardConnection(
  conn: Duplex,
  maxRemainingLength: number,
  onOversize: (remainingLength: number) => void,
): Duplex {
  const scanner = new FrameScanner(maxRemainingLength);
  const read = conn.read.bind(conn);
  let tripped = false;
  conn.read = (size?: number) => {
    if (tripped) return null;
    const chunk: unknown = read(size);
    if (chunk === null || !(chunk instanceof Uint8Array)) return chunk;
    const over = scanner.feed(chunk);
    if (over < 0) return chunk;
    tripped = true;
    onOversize(over);
    conn.destroy(new GatewayError("E_GW_FRAME_TOO_LARGE", `MQTT packet of ${over} bytes exceeds the limit`));
    return null;
  };
  return conn;
}
