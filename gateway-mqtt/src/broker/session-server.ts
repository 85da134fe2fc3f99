import type { Duplex } from "node:stream";
import type { IPublishPacket } from "mqtt-packet";
import { DeviceSession, type SessionHooks, type SessionOwner } from "./device-session.ts";

export interface SessionServerEvents {
  /** A CONNECT was accepted; the session is registered under its id (before its CONNACK). */
  connected(session: DeviceSession): void;
  /** A registered session ended (after `connected`), whatever ended it. */
  disconnected(session: DeviceSession): void;
  /** An accepted PUBLISH, after its PUBACK went out, in arrival order. */
  request(session: DeviceSession, packet: IPublishPacket): void;
  /** Why a connection or session is being closed (refusals, timeouts, protocol errors, socket errors). */
  failed(session: DeviceSession, err: Error): void;
}

/**
 * Every open device connection, and the connected sessions by client id: at most one per id,
 * a newer accepted CONNECT closing the older session [MQTT-3.1.4-2].
 */
export class SessionServer implements SessionOwner {
  private readonly open = new Set<DeviceSession>();
  private readonly byId = new Map<string, DeviceSession>();
  private closing = false;

  constructor(
    readonly hooks: SessionHooks,
    private readonly events: SessionServerEvents,
    private readonly connectTimeoutMs: number,
  ) {}

  /** Takes a new connection (any transport); the session ends with it. */
  handle(conn: Duplex): DeviceSession | undefined {
    if (this.closing) {
      conn.destroy();
      return undefined;
    }
    const s = new DeviceSession(this, conn, this.connectTimeoutMs);
    this.open.add(s);
    return s;
  }

  /** The connected session with this client id, if any. */
  get(id: string): DeviceSession | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  register(session: DeviceSession): void {
    this.byId.get(session.id)?.close();
    this.byId.set(session.id, session);
    this.events.connected(session);
  }

  ended(session: DeviceSession): void {
    this.open.delete(session);
    if (this.byId.get(session.id) !== session) return;
    this.byId.delete(session.id);
    this.events.disconnected(session);
  }

  request(session: DeviceSession, packet: IPublishPacket): void {
    this.events.request(session, packet);
  }

  failed(session: DeviceSession, err: Error): void {
    this.events.failed(session, err);
  }

  /** Closes every connection and refuses new ones. */
  close(): void {
    this.closing = true;
    for (const s of [...this.open]) s.close();
  }
}
