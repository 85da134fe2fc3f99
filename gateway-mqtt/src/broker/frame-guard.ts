import type { Duplex } from "node:stream";
import { type BucketSpec, TokenBucket } from "@devreg/runtime";
import { GatewayError } from "../errors.ts";

/** What {@link FrameScanner.feed} returns when a packet starts over the connection's packet rate. */
export const OVER_PACKET_RATE = -2;

/**
 * Incremental scanner of MQTT fixed headers [MQTT-2.2]: it follows packet boundaries in a
 * byte stream without buffering anything, reports the first packet whose Remaining Length
 * exceeds the limit, and where in each chunk the last whole packet ends. The mqtt-packet parser has no size limit and would
 * buffer up to 256 MB per packet; this runs before it.
 */
export class FrameScanner {
  private state: "type" | "length" | "body" = "type";
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  /** Bytes of the last chunk fed, from its start, up to the end of the last packet that ended in it (0: none did). */
  wholeBytes = 0;

  constructor(
    readonly maxRemainingLength: number,
    /** Charged once per packet: a packet without a token stops the scan (OVER_PACKET_RATE). */
    private readonly packets?: { tryTake(): boolean },
  ) {}

  /**
   * Feeds a chunk; returns the offending Remaining Length, OVER_PACKET_RATE, or -1 if every
   * packet is within bounds.
   */
  feed(chunk: Uint8Array): number {
    let i = 0;
    this.wholeBytes = 0;
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
          if (this.packets && !this.packets.tryTake()) return OVER_PACKET_RATE;
          this.remaining = this.length;
          this.state = this.remaining === 0 ? "type" : "body";
          if (this.remaining === 0) this.wholeBytes = i;
        } else if (this.lengthBytes >= 4) {
          // [MQTT-2.2.3] at most four length bytes: a malformed packet.
          return Number.MAX_SAFE_INTEGER;
        }
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = "type";
          this.wholeBytes = i;
        }
      }
    }
    return -1;
  }
}

/**
 * Guards a connection (TCP, TLS or WebSocket stream) in place: every chunk the transport hands
 * to the stream (`push`, called by net/tls for each socket read and by ws for each message)
 * passes the scanner first, so a packet larger than `maxRemainingLength` destroys the
 * connection before its body reaches any reader, whether it reads with `read()` or
 * in flowing mode. Anything but bytes fails closed. No wrapper stream: an earlier Duplex
 * wrapper cost each connection a second pair of stream states and every packet an extra
 * stream hop; writes now go straight to the socket, whose own writev keeps mqtt-packet's
 * corked chunks in one TCP segment.
 *
 * Readers get whole packets only: the bytes of an unfinished packet are held here, copied into
 * one buffer, until it is complete. mqtt-packet's parser would keep every chunk of it as it came
 * (a Buffer object of about 190 bytes of heap per read), so a 4 KiB packet sent one byte per
 * TCP segment made its session hold some 750 KiB.
 */
export function guardConnection(
  conn: Duplex,
  maxRemainingLength: number,
  onOversize: (remainingLength: number) => void,
  /**
   * Packets the connection may send (token bucket): past it the connection is destroyed before
   * the packet is parsed. Each packet costs the gateway a parse and often a write, so a client
   * pipelining small packets (64 KiB of PINGREQs is 32,768 answers) would hold the event loop.
   */
  rate?: { packets: BucketSpec; onOverRate(): void },
): Duplex {
  const scanner = new FrameScanner(maxRemainingLength, rate && new TokenBucket(rate.packets));
  const push = conn.push.bind(conn);
  const partial = new PartialPacket();
  let tripped = false;
  conn.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (tripped) return false;
    if (chunk === null) return push(null);
    const over = chunk instanceof Uint8Array ? scanner.feed(chunk) : Number.MAX_SAFE_INTEGER;
    if (over === -1) {
      const bytes = chunk as Uint8Array;
      const whole = scanner.wholeBytes;
      let more = true;
      if (whole > 0)
        more = push(partial.take(whole === bytes.length ? bytes : bytes.subarray(0, whole)), encoding);
      if (whole < bytes.length) partial.add(bytes.subarray(whole));
      return more;
    }
    tripped = true;
    partial.clear();
    if (over === OVER_PACKET_RATE) {
      rate?.onOverRate();
      conn.destroy(new GatewayError("E_GW_PACKET_RATE", "too many MQTT packets on this connection"));
      return false;
    }
    onOversize(over);
    conn.destroy(new GatewayError("E_GW_FRAME_TOO_LARGE", `MQTT packet of ${over} bytes exceeds the limit`));
    return false;
  };
  return conn;
}

/** The bytes of one unfinished packet, in one buffer that grows by doubling (never pins a read's buffer). */
class PartialPacket {
  private buf: Buffer | undefined;
  private len = 0;

  add(bytes: Uint8Array): void {
    const need = this.len + bytes.length;
    if (!this.buf || need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (this.buf?.length ?? 0), 64));
      this.buf?.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.set(bytes, this.len);
    this.len = need;
  }

  /** `rest` preceded by the held bytes, if any; nothing is held afterwards. */
  take(rest: Uint8Array): Uint8Array {
    if (!this.buf) return rest;
    const out = Buffer.concat([this.buf.subarray(0, this.len), rest]);
    this.clear();
    return out;
  }

  clear(): void {
    this.buf = undefined;
    this.len = 0;
  }
}
