import net from "node:net";
import { replyTopic, requestTopic } from "@devreg/protocol";
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet } from "mqtt-packet";
import type { ConnectRefusal } from "../broker/acl.ts";
import { type DeviceSession, SUBACK_FAILURE, type SessionHooks } from "../broker/device-session.ts";
import { SessionServer } from "../broker/session-server.ts";

/**
 * A SessionServer on a real loopback TCP listener, with stub hooks the test decides, and raw
 * MQTT clients (bytes from mqtt-packet's generate, replies through its parser), for unit tests
 * of the session layer. Waits poll with setImmediate and real time, so they keep working under
 * fake setTimeout.
 */

export const DEVICE_A = "0123456789abcdef0123456789abcdef";
export const DEVICE_B = "fedcba9876543210fedcba9876543210";

export type SessionEvent =
  | { kind: "connected"; session: DeviceSession; written: number }
  | { kind: "disconnected"; session: DeviceSession }
  | { kind: "request"; session: DeviceSession; packet: IPublishPacket; written: number }
  | { kind: "failed"; session: DeviceSession; err: Error; unsent: number };

/** Hooks that accept what a well-behaved device does; tests replace single decisions. */
export interface StubHooks extends SessionHooks {
  calls: { connect: number; publish: number; subscribe: number; forward: number };
}

export function stubHooks(over: Partial<SessionHooks> = {}): StubHooks {
  const calls = { connect: 0, publish: 0, subscribe: 0, forward: 0 };
  return {
    calls,
    connect: (s, p) => {
      calls.connect++;
      return over.connect ? over.connect(s, p) : null;
    },
    publish: (s, p) => {
      calls.publish++;
      return over.publish ? over.publish(s, p) : p.topic === requestTopic(s.id);
    },
    subscribe: (s, topic, qos) => {
      calls.subscribe++;
      if (over.subscribe) return over.subscribe(s, topic, qos);
      return topic === replyTopic(s.id) ? Math.min(qos, 1) : SUBACK_FAILURE;
    },
    forward: (s, topic) => {
      calls.forward++;
      return over.forward ? over.forward(s, topic) : topic === replyTopic(s.id);
    },
  };
}

export const refuseWith = (returnCode: number): ConnectRefusal => ({
  kind: "client_id",
  returnCode,
  message: `refused by the test (${returnCode})`,
});

/** Bytes the socket under a session has taken (written or still buffered). */
const written = (s: DeviceSession): number => (s.conn as net.Socket).bytesWritten;

export class LoopbackServer {
  /** Every connection the server handed to the session layer, in accept order. */
  readonly sessions: Array<DeviceSession | undefined> = [];
  private readonly clients: RawClient[] = [];

  private constructor(
    /** What the session server reported, in order. */
    readonly events: SessionEvent[],
    readonly server: SessionServer,
    private readonly tcp: net.Server,
    readonly port: number,
  ) {}

  static async start(hooks: SessionHooks, connectTimeoutMs = 10_000): Promise<LoopbackServer> {
    const events: SessionEvent[] = [];
    const server = new SessionServer(
      hooks,
      {
        connected: (session) => events.push({ kind: "connected", session, written: written(session) }),
        disconnected: (session) => events.push({ kind: "disconnected", session }),
        request: (session, packet) =>
          events.push({ kind: "request", session, packet, written: written(session) }),
        failed: (session, err) =>
          events.push({ kind: "failed", session, err, unsent: session.conn.writableLength }),
      },
      connectTimeoutMs,
    );
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    const lb = new LoopbackServer(events, server, tcp, port);
    tcp.on("connection", (socket) => lb.sessions.push(server.handle(socket)));
    return lb;
  }

  /** A raw client, and (once the server accepted it) its session. */
  async open(): Promise<{ client: RawClient; session: DeviceSession }> {
    const n = this.sessions.length;
    const client = await RawClient.connect(this.port);
    this.clients.push(client);
    await until(() => this.sessions.length > n, "the server to accept");
    const session = this.sessions[n];
    if (!session) throw new Error("the session server refused the connection");
    return { client, session };
  }

  /** A raw client whose connection the server may refuse. */
  async openRaw(): Promise<RawClient> {
    const client = await RawClient.connect(this.port);
    this.clients.push(client);
    return client;
  }

  of<K extends SessionEvent["kind"]>(kind: K, session?: DeviceSession): Array<SessionEvent & { kind: K }> {
    return this.events.filter(
      (e): e is SessionEvent & { kind: K } => e.kind === kind && (!session || e.session === session),
    );
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.sock.destroy();
    this.server.close();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

export function connectPacket(clientId = DEVICE_A, over: Partial<IConnectPacket> = {}): IConnectPacket {
  return {
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive: 0,
    clientId,
    ...over,
  };
}

export function requestPacket(deviceId: string, messageId: number, qos: 0 | 1 = 1): IPublishPacket {
  return {
    cmd: "publish",
    topic: requestTopic(deviceId),
    payload: Buffer.from(`request ${messageId}`),
    qos,
    retain: false,
    dup: false,
    messageId: qos === 1 ? messageId : undefined,
  };
}

/** A plain TCP client speaking raw MQTT 3.1.1: what it sends is bytes, what it gets is parsed. */
export class RawClient {
  readonly packets: Packet[] = [];
  /** Parse errors on what the gateway sent (none expected). */
  readonly parseErrors: Error[] = [];
  isClosed = false;
  readonly closed: Promise<void>;
  private read = 0;

  private constructor(readonly sock: net.Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => this.packets.push(p));
    parser.on("error", (e: Error) => this.parseErrors.push(e));
    sock.on("data", (chunk: Buffer) => parser.parse(chunk));
    sock.on("error", () => {}); // resets are what some tests provoke
    this.closed = new Promise((resolve) =>
      sock.once("close", () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawClient> {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    return new RawClient(sock);
  }

  /** Every packet in one write (one TCP segment on loopback). */
  send(...packets: Packet[]): void {
    this.sendBytes(Buffer.concat(packets.map((p) => mqttPacket.generate(p))));
  }

  sendBytes(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  /** The next packet not yet taken; fails if the connection closes first. */
  async next(): Promise<Packet> {
    await until(() => this.packets.length > this.read || this.isClosed, "a packet");
    const p = this.packets[this.read];
    if (!p) throw new Error("connection closed before the next packet");
    this.read++;
    return p;
  }

  /** CONNECT, then its CONNACK. */
  async connect(clientId = DEVICE_A, over: Partial<IConnectPacket> = {}): Promise<Packet> {
    this.send(connectPacket(clientId, over));
    return this.next();
  }

  async waitClosed(): Promise<void> {
    await until(() => this.isClosed, "the connection to close");
  }
}

/** Polls `cond` each event-loop turn (setImmediate, real clock) until true or `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A few event-loop turns, for checks that something did NOT happen. */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
