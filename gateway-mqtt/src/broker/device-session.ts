import type { Duplex } from "node:stream";
import mqttPacket, {
  type IConnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from "mqtt-packet";
import { replyTopic } from "@devreg/protocol";
import { GatewayError } from "../errors.ts";
import { CONNACK_UNACCEPTABLE_PROTOCOL, type ConnectRefusal } from "./acl.ts";

/**
 * Topic filters one SUBSCRIBE or UNSUBSCRIBE may carry. A device needs one (its reply topic);
 * each filter costs an ACL check and a refusal line, so a packet of a thousand would be a
 * thousand of them for one token of the connection's packet rate.
 */
const MAX_FILTERS_PER_PACKET = 8;
/** SUBACK failure code [MQTT-3.9.3]. */
export const SUBACK_FAILURE = 0x80;
/**
 * Bytes a session may leave unsent before it counts as a client that does not read. A
 * device's whole exchange is four small packets; only a peer that stopped reading gets here.
 */
const MAX_UNSENT_BYTES = 64 * 1024;

/** What the gateway decides for each packet a device sends; pure answers, no I/O. */
export interface SessionHooks {
  /** CONNECT: null accepts (the session is then bound to the key it proved), else the refusal. */
  connect(session: DeviceSession, packet: IConnectPacket): ConnectRefusal | null;
  /** PUBLISH: true accepts it (PUBACK, then a request); false closes the connection (3.1.1 has no negative PUBACK). */
  publish(session: DeviceSession, packet: IPublishPacket): boolean;
  /** One SUBSCRIBE filter: the QoS granted, or SUBACK_FAILURE. */
  subscribe(session: DeviceSession, topic: string, qos: number): number;
  /** Last lock on outgoing messages: may this session receive a message on `topic`? */
  forward(session: DeviceSession, topic: string): boolean;
}

/** The session registry's side of a session (session-server.ts). */
export interface SessionOwner {
  readonly hooks: SessionHooks;
  /** A CONNECT was accepted: registers the session, closing an older one with its id [MQTT-3.1.4-2]. */
  register(session: DeviceSession): void;
  /** A registered or unregistered session ended. */
  ended(session: DeviceSession): void;
  request(session: DeviceSession, packet: IPublishPacket): void;
  failed(session: DeviceSession, err: Error): void;
}

type Done = (err?: Error) => void;

/** Thrown out of the parser's packet listener to end a parse() early (see the listener). */
const STOP_READING = new Error("session stopped reading");

/**
 * One device's MQTT 3.1.1 session, for exactly what a device does [PROTO-5]: CONNECT with its
 * proof, SUBSCRIBE to its reply topic, PUBLISH requests at QoS 0 or 1, PINGREQ, UNSUBSCRIBE,
 * DISCONNECT; and the gateway's replies to it. Written here instead of using a general broker
 * because the gateway routes nothing between clients: a general broker's per-session machinery
 * (persistence, topic trie, retained-message and queue streams, $SYS notices) cost 1.3 ms of
 * CPU per device session, most of the gateway's budget (issue 16; gateway-mqtt/bench/session.bench.ts).
 * Parsing and encoding stay with mqtt-packet. Every decision is the hooks'; anything else a
 * client sends (a second CONNECT, anything before CONNECT, QoS 2, MQTT 5 packets) ends the
 * connection.
 */
export class DeviceSession {
  /** The MQTT client id (a device id once CONNECT was accepted); "" before CONNECT. */
  id = "";
  closed = false;
  connected = false;
  /** The QoS granted on the session's one possible subscription (its reply topic), if subscribed. */
  replyQos: number | undefined;
  /** A refusing CONNACK is on its way out: nothing the client sent after that CONNECT is read [MQTT-3.2.2-5]. */
  private refused = false;
  private readonly parser = mqttPacket.parser();
  private timer: NodeJS.Timeout | undefined;
  private keepaliveMs = 0;
  private nextMessageId = 1 + Math.floor(Math.random() * 65_535);

  constructor(
    private readonly owner: SessionOwner,
    readonly conn: Duplex,
    connectTimeoutMs: number,
  ) {
    this.parser.on("packet", (p: Packet) => {
      // Nothing more is read once the session closed or refused its CONNECT: stopping the
      // parser spares it the rest of the chunk, up to some 30,000 packets per 64 KiB read.
      if (this.closed || this.refused) throw STOP_READING;
      this.onPacket(p);
    });
    // What mqtt-packet cannot parse is a protocol violation like any other.
    this.parser.on("error", (e: Error) => this.fail(protocolError(e.message)));
    conn.on("data", (chunk: Buffer) => {
      if (this.closed || this.refused) return;
      try {
        this.parser.parse(chunk);
      } catch (e) {
        if (e === STOP_READING) return;
        // A bug in handling one packet ends this session, never the process.
        this.fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
    conn.on("error", (e: Error) => this.fail(e));
    conn.on("end", () => this.close());
    conn.on("close", () => this.close());
    this.timer = setTimeout(
      () => this.fail(new GatewayError("E_GW_CONNECT_TIMEOUT", "connect did not arrive in time")),
      connectTimeoutMs,
    );
  }

  /**
   * Sends `payload` on `topic` to this device (QoS 0 or 1, never retained). `done` runs once the
   * bytes are handed to the transport, or with an error if the session cannot take them.
   */
  publish(topic: string, payload: Buffer, qos: 0 | 1, done: Done): void {
    if (!this.connected || this.closed) {
      done(new GatewayError("E_GW_CLOSED", "session closed"));
      return;
    }
    if (!this.owner.hooks.forward(this, topic)) {
      done(new GatewayError("E_GW_REFUSED", "not this session's topic"));
      return;
    }
    const messageId = qos === 1 ? this.takeMessageId() : undefined;
    this.send({ cmd: "publish", topic, payload, qos, retain: false, dup: false, messageId }, done);
  }

  /** Ends the session and its connection. Idempotent. */
  close(done?: () => void): void {
    if (!this.closed) {
      this.closed = true;
      this.connected = false;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.conn.destroy();
      this.owner.ended(this);
    }
    done?.();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.owner.failed(this, err);
    this.close();
  }

  private onPacket(p: Packet): void {
    if (this.closed || this.refused) return;
    if (p.cmd === "connect") {
      this.onConnect(p);
      return;
    }
    // [MQTT-3.1.0-1] nothing before CONNECT.
    if (!this.connected) {
      this.fail(protocolError(`${p.cmd} before CONNECT`));
      return;
    }
    this.timer?.refresh();
    switch (p.cmd) {
      case "publish":
        this.onPublish(p);
        return;
      case "subscribe":
        this.onSubscribe(p);
        return;
      case "unsubscribe":
        this.onUnsubscribe(p);
        return;
      case "pingreq":
        this.send({ cmd: "pingresp" });
        return;
      case "puback":
        return; // replies are not stored for redelivery: sessions are clean, devices retry [PROTO-5a]
      case "disconnect":
        this.close();
        return;
      default:
        this.fail(protocolError(`unexpected ${p.cmd}`));
        return;
    }
  }

  private onConnect(p: IConnectPacket): void {
    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
    if (this.connected) {
      this.fail(protocolError("second CONNECT"));
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.id = typeof p.clientId === "string" ? p.clientId : "";
    // The hooks see every CONNECT first, so each refusal (an unsupported level included) is
    // charged to the connect rate and counted.
    const refusal = this.owner.hooks.connect(this, p);
    if (refusal) {
      this.refuseConnect(refusal.returnCode, refusal.message);
      return;
    }
    // Whatever the hooks allow, only MQTT 3.1/3.1.1 is spoken here.
    if (p.protocolVersion !== 3 && p.protocolVersion !== 4) {
      this.refuseConnect(CONNACK_UNACCEPTABLE_PROTOCOL, "unacceptable protocol version");
      return;
    }
    this.connected = true;
    this.owner.register(this);
    if (this.closed) return;
    // [MQTT-3.1.2-24] one and a half keepalive periods without a packet end the session.
    this.keepaliveMs = (p.keepalive ?? 0) * 1500;
    if (this.keepaliveMs > 0)
      this.timer = setTimeout(
        () => this.fail(new GatewayError("E_GW_KEEPALIVE", "keep alive timeout")),
        this.keepaliveMs,
      );
    this.send({ cmd: "connack", returnCode: 0, sessionPresent: false });
  }

  /** The refusing CONNACK goes out, then the connection closes [MQTT-3.2.2-5]. */
  private refuseConnect(returnCode: number, message: string): void {
    this.refused = true;
    this.owner.failed(this, new GatewayError("E_GW_REFUSED", message));
    this.send({ cmd: "connack", returnCode, sessionPresent: false }, () => this.close());
  }

  private onPublish(p: IPublishPacket): void {
    if (!this.owner.hooks.publish(this, p)) {
      this.close();
      return;
    }
    // Whatever the hooks allow, the QoS 2 flow (PUBREC/PUBREL) is not spoken here.
    if (p.qos > 1) {
      this.fail(protocolError("QoS 2 publish"));
      return;
    }
    if (p.qos === 1) this.send({ cmd: "puback", messageId: p.messageId });
    // Sending the PUBACK may have closed the session (a client that does not read).
    if (!this.closed) this.owner.request(this, p);
  }

  private onSubscribe(p: ISubscribePacket): void {
    // [MQTT-3.8.3-3] at least one filter; more than a device could need is refused outright.
    if (p.subscriptions.length === 0 || p.subscriptions.length > MAX_FILTERS_PER_PACKET) {
      this.fail(protocolError(`SUBSCRIBE with ${p.subscriptions.length} filters`));
      return;
    }
    const granted = p.subscriptions.map((s) => {
      const q = this.owner.hooks.subscribe(this, s.topic, s.qos);
      if (q !== SUBACK_FAILURE) this.replyQos = q;
      return q;
    });
    this.send({ cmd: "suback", messageId: p.messageId, granted });
  }

  private onUnsubscribe(p: IUnsubscribePacket): void {
    // [MQTT-3.10.3-2] at least one filter; the same bound as SUBSCRIBE.
    if (p.unsubscriptions.length === 0 || p.unsubscriptions.length > MAX_FILTERS_PER_PACKET) {
      this.fail(protocolError(`UNSUBSCRIBE with ${p.unsubscriptions.length} filters`));
      return;
    }
    if (p.unsubscriptions.includes(replyTopic(this.id))) this.replyQos = undefined;
    this.send({ cmd: "unsuback", messageId: p.messageId, granted: [] });
  }

  /** One packet, one buffer, one write (mqtt-packet's writeToStream would write each field). */
  private send(packet: Packet, done?: Done): void {
    if (this.closed) {
      done?.(new GatewayError("E_GW_CLOSED", "session closed"));
      return;
    }
    let buf: Buffer;
    try {
      buf = mqttPacket.generate(packet);
    } catch (e) {
      done?.(e as Error);
      this.fail(e as Error);
      return;
    }
    this.conn.write(buf, done && ((err?: Error | null) => done(err ?? undefined)));
    if (this.conn.writableLength > MAX_UNSENT_BYTES)
      this.fail(new GatewayError("E_GW_SLOW_READER", "client does not read what it is sent"));
  }

  private takeMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id >= 65_535 ? 1 : id + 1;
    return id;
  }
}

function protocolError(what: string): GatewayError {
  return new GatewayError("E_GW_PROTOCOL", `MQTT protocol violation: ${what}`);
}
