import { EventEmitter } from "node:events";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { type ReplayGuard, replyTopic } from "@devreg/protocol";
import { type Lifecycle, type Logger, sleep, waitFor, within } from "@devreg/runtime";
import type { IPublishPacket } from "mqtt-packet";
import type { GatewayConfig } from "../config.ts";
import { errorText } from "../errors.ts";
import { checkConnectProof } from "./connect-auth.ts";
import type { DeviceSession } from "./device-session.ts";
import { guardConnection } from "./frame-guard.ts";
import { type HookDeps, createHooks } from "./hooks.ts";
import type { ConnectionLimiter } from "../limits/connection-limiter.ts";
import type { SessionCloseReason } from "../metrics.ts";
import { type MqttListeners, startMqttListeners } from "./listeners.ts";
import { SessionBindings } from "./session-binding.ts";
import { SessionTimers, closeReasonOf } from "./session-limits.ts";
import { SessionServer } from "./session-server.ts";

/** A device's MQTT session, as the rest of the gateway sees it. */
export type Client = DeviceSession;
export type PublishPacket = IPublishPacket;

/** Where a session stands after the gateway's latest step; decides how long it may stay. */
export type SessionPhase = "request" | "busy" | "pending" | "enrolled" | "final";

export interface BrokerDeps {
  cfg: GatewayConfig;
  log: Logger;
  stopping(): boolean;
  refuse: HookDeps["refuse"];
  takeover: HookDeps["takeover"];
  onClientCount(n: number): void;
  /** [PROTO-23] [PROTO-39] The replay memory, shared by requests and CONNECT proofs. */
  replay: ReplayGuard;
  /** Total and per-address caps on open MQTT sockets (all MQTT listeners together). */
  connections: ConnectionLimiter;
  sessionClosed(reason: SessionCloseReason): void;
}

export interface BrokerEvents {
  /**
   * A request publish the ACL authorized, emitted after its PUBACK, in arrival order. Not yet
   * rate-limited or decoded: that is the listener's part.
   */
  request: [client: Client, packet: PublishPacket, remote: string];
}

/**
 * The gateway's MQTT endpoint: listeners, the device sessions (session-server.ts) and their
 * hooks; the live sessions by id (the device id) are what replies and deactivation pushes
 * use. Nothing is routed between clients: a device may publish only its request topic
 * [PROTO-6] and subscribe only to its own reply topic [PROTO-5], and replies go straight to
 * their one session. Authorized requests leave it as "request" events.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  private readonly sessions: SessionServer;
  private mqttListeners?: MqttListeners;
  private listenersClosed?: Promise<void>;
  private readonly remotes = new WeakMap<object, string>();
  private readonly bindings = new SessionBindings();
  private outstanding = 0;
  /** [PROTO-5a] Closes sessions that are idle or done (see sessionPhase). */
  private readonly timers: SessionTimers<Client>;
  /** Requests each session has sent and not yet had answered: no timer closes it meanwhile. */
  private readonly deciding = new WeakMap<Client, number>();

  constructor(private readonly deps: BrokerDeps) {
    super();
    const { cfg, log } = deps;
    this.timers = new SessionTimers<Client>((c, reason) => {
      if (c.closed) return;
      deps.sessionClosed(reason);
      log.debug({ clientId: c.id, reason }, "session closed by the gateway");
      c.close();
    });
    const hooks = createHooks({
      cfg,
      remoteOf: (c) => this.remotes.get(c.conn) ?? "unknown",
      isConnected: (id) => this.sessions.get(id)?.closed === false,
      stopping: deps.stopping,
      refuse: deps.refuse,
      takeover: deps.takeover,
      checkProof: (clientId, username, password, source) =>
        checkConnectProof(
          {
            clientId,
            username,
            password: password && new Uint8Array(password.buffer, password.byteOffset, password.byteLength),
            nowSeconds: Math.floor(Date.now() / 1000),
            source,
          },
          deps.replay,
          cfg.maxSkewSeconds,
        ),
      bind: (client, decision) =>
        this.bindings.bind(client, decision.proof.deviceId, decision.proof.publicKey),
      hookFailed: (hook, err) => log.error({ hook, err: errorText(err) }, "broker hook failed; refusing"),
    });
    this.sessions = new SessionServer(
      hooks,
      {
        connected: (c) => {
          deps.onClientCount(this.sessions.size);
          this.timers.arm(c, cfg.mqtt.idleTimeoutMs, "idle");
        },
        disconnected: (c) => {
          this.timers.clear(c);
          deps.onClientCount(this.sessions.size);
        },
        request: (c, packet) => this.handOn(c, packet),
        failed: (c, err) => {
          const reason = closeReasonOf(err);
          if (reason) deps.sessionClosed(reason);
          log.debug({ clientId: c.id || undefined, err: errorText(err) }, "session ended");
        },
      },
      cfg.mqtt.connectTimeoutMs,
    );
  }

  /** The request's listener never throws into the session's packet handling. */
  private handOn(client: Client, packet: PublishPacket): void {
    try {
      this.emit("request", client, packet, this.remotes.get(client.conn) ?? "unknown");
    } catch (e) {
      this.deps.log.error({ clientId: client.id, err: errorText(e) }, "request handler failed");
    }
  }

  /**
   * Starts the broker and its listeners. Stop: after in-flight replies are flushed the broker
   * closes (every session ends), then the listeners, which stopAccepting() began to close.
   */
  async start(life: Lifecycle): Promise<void> {
    life.onStop("MQTT listeners", async () => {
      if (!(await within(this.stopAccepting(), 2_000)))
        this.deps.log.warn("listeners did not close within 2 s");
    });
    life.onStop("MQTT broker", async () => {
      await this.flush(1_000);
      await this.close();
    });
    this.mqttListeners = await startMqttListeners(
      this.deps.cfg,
      (conn, remote) => this.accept(conn, remote),
      (socket) => this.admit(socket),
    );
  }

  /** Total and per-address connection caps, before a byte is read. */
  private admit(socket: net.Socket): boolean {
    const remote = socket.remoteAddress ?? "unknown";
    if (this.deps.stopping()) {
      socket.destroy();
      return false;
    }
    const admission = this.deps.connections.tryAdmit(remote);
    if (!admission.ok) {
      this.deps.refuse(admission.kind, { remote });
      socket.destroy();
      return false;
    }
    socket.once("close", admission.release);
    return true;
  }

  /**
   * [PROTO-5a] How long a session may stay after the gateway's latest step: while a
   * request is decided, while a late decision may still come after "pending", for the idle
   * timeout after "busy", and `closeAfterFinalReplyMs` after a final reply. An approved
   * device's session ("enrolled": its key proven at CONNECT and approved) may stay to hear a
   * deactivation notice: only `enrolledIdleMs` ends it, if set. A session with a request still
   * being decided keeps its request timer whatever else it is told.
   */
  sessionPhase(client: Client, phase: SessionPhase): void {
    if (client.closed) return;
    if (phase !== "request" && (this.deciding.get(client) ?? 0) > 0) return;
    const { mqtt, decisionTimeoutMs, latePushMs } = this.deps.cfg;
    if (phase === "final") {
      this.timers.arm(client, mqtt.closeAfterFinalReplyMs, "final_reply");
      return;
    }
    if (phase === "enrolled") {
      if (mqtt.enrolledIdleMs > 0) this.timers.arm(client, mqtt.enrolledIdleMs, "enrolled_idle");
      else this.timers.clear(client);
      return;
    }
    const floor =
      phase === "request" ? decisionTimeoutMs + 5_000 : phase === "pending" ? latePushMs + 5_000 : 0;
    this.timers.arm(client, Math.max(mqtt.idleTimeoutMs, floor), "idle");
  }

  /** A request from `client` is being decided: no timer closes its session meanwhile [PROTO-5a]. */
  requestStarted(client: Client): void {
    this.deciding.set(client, (this.deciding.get(client) ?? 0) + 1);
    this.sessionPhase(client, "request");
  }

  /**
   * The answer to a request `origin` sent (delivered or not). The session the answer was
   * addressed to [PROTO-41] takes the phase: the device's session bound to its key now, which
   * is `origin`, or the session that took over from it or connected after it left.
   */
  requestAnswered(origin: Client, deviceId: string, phase: SessionPhase): void {
    const left = (this.deciding.get(origin) ?? 1) - 1;
    if (left > 0) this.deciding.set(origin, left);
    else this.deciding.delete(origin);
    const bound = this.client(deviceId);
    if (bound) this.sessionPhase(bound, phase);
  }

  get mqttPort(): number {
    return this.mqttListeners?.mqttPort ?? 0;
  }

  get wsPort(): number | undefined {
    return this.mqttListeners?.wsPort;
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  private accept(conn: Duplex, remote: string): void {
    if (this.deps.stopping()) {
      conn.destroy();
      return;
    }
    const { limits } = this.deps.cfg;
    const guarded = guardConnection(
      conn,
      limits.maxPacketBytes,
      (len) => this.deps.refuse("frame_too_large", { remote, detail: `remaining length ${len}` }),
      { packets: limits.packetsPerConnection, onOverRate: () => this.deps.refuse("packet_rate", { remote }) },
    );
    this.remotes.set(guarded, remote);
    this.sessions.handle(guarded);
  }

  /**
   * The connected client with this id, if any, and only if its session proved the key of
   * this device id at CONNECT [PROTO-41]: replies and deactivation notices go nowhere else.
   */
  client(deviceId: string): Client | undefined {
    const c = this.sessions.get(deviceId);
    return c && !c.closed && this.bindings.isBoundTo(c, deviceId) ? c : undefined;
  }

  /** Hands one reply to one session, at the QoS it subscribed with (at most 1), never retained. */
  private deliver(client: Client, qos: number, frame: Uint8Array, cb: (err?: Error) => void): void {
    client.publish(
      replyTopic(client.id),
      Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
      qos > 0 ? 1 : 0,
      cb,
    );
  }

  /**
   * Publishes a signed reply on the device's reply topic. A reply topic has exactly one
   * possible subscriber (the device itself, PROTO-5), so the reply goes straight to that
   * client: no topic matching, no persistence round trip on the hot path. `authorizeForward`
   * still checks it. A device that is not connected or not subscribed gets nothing (MQTT
   * semantics; it retries).
   */
  publishReply(deviceId: string, frame: Uint8Array): Promise<boolean> {
    const client = this.client(deviceId);
    const qos = client?.replyQos;
    if (!client || qos === undefined) {
      this.deps.log.debug(
        { deviceId },
        "reply dropped: device not connected or not subscribed to its reply topic",
      );
      return Promise.resolve(false);
    }
    this.outstanding++;
    return new Promise<boolean>((resolve) => {
      this.deliver(client, qos, frame, (err) => {
        this.outstanding--;
        if (err) this.deps.log.debug({ deviceId, err: errorText(err) }, "reply delivery failed");
        resolve(!err);
      });
    });
  }

  /**
   * Writes a frame straight to one connected client (if it subscribed to its reply topic),
   * then disconnects it. Used for the deactivation push.
   */
  pushAndDisconnect(client: Client, frame: Uint8Array): Promise<boolean> {
    // [PROTO-41] checked again at delivery: only a session bound to this device's key.
    const qos = this.bindings.isBoundTo(client, client.id) ? client.replyQos : undefined;
    return new Promise((resolve) => {
      const close = (sent: boolean) => client.close(() => resolve(sent));
      if (qos === undefined) return close(false);
      this.outstanding++;
      this.deliver(client, qos, frame, (err) => {
        this.outstanding--;
        close(!err);
      });
    });
  }

  /** Stops accepting connections (existing ones stay until close()); settles once the listeners closed. */
  stopAccepting(): Promise<void> {
    if (!this.mqttListeners) return Promise.resolve();
    this.listenersClosed ??= this.mqttListeners.close();
    return this.listenersClosed;
  }

  /** Waits until every reply handed to the broker has been dispatched, or `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    await waitFor(() => this.outstanding === 0, { timeoutMs, intervalMs: 5 }).catch(() => {});
    // One more turn so QoS writes scheduled with setImmediate reach the sockets.
    await sleep(20);
  }

  close(): Promise<void> {
    this.timers.clearAll();
    this.sessions.close();
    return Promise.resolve();
  }
}
