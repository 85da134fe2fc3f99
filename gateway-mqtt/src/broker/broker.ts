import { EventEmitter } from "node:events";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { type ReplayGuard, replyTopic } from "@devreg/protocol";
import { type Lifecycle, type Logger, sleep, waitFor, within } from "@devreg/runtime";
import { Aedes, type Client, type PublishPacket } from "aedes";
import type { GatewayConfig } from "../config.ts";
import { errorText } from "../errors.ts";
import { checkConnectProof } from "./connect-auth.ts";
import { guardConnection } from "./frame-guard.ts";
import { type HookDeps, createHooks } from "./hooks.ts";
import type { ConnectionLimiter } from "../limits/connection-limiter.ts";
import type { SessionCloseReason } from "../metrics.ts";
import { type MqttListeners, startMqttListeners } from "./listeners.ts";
import { SessionBindings } from "./session-binding.ts";
import { SessionTimers } from "./session-limits.ts";

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
   * A request publish the ACL authorized, emitted after the authorizePublish hook answered
   * Aedes, in arrival order. Not yet rate-limited or decoded: that is the listener's part.
   */
  request: [client: Client, packet: PublishPacket, remote: string];
}

/**
 * Aedes' topic routing, replaced by "deliver nowhere". Nothing published through the broker
 * has a legitimate recipient: a device may publish only its request topic [PROTO-6], a
 * device may subscribe only to its own reply topic [PROTO-5] (so no one can subscribe to a
 * request topic or to `$SYS`), and replies go straight to their one client (publishReply).
 * Routing each request, and the three `$SYS` notices of every session (connect, subscribe,
 * disconnect), through mqemitter, the subscription trie and the persistence was pure cost
 * per enrollment (issue 16). `authorizeForward` stays as the second lock.
 */
const routeNothing: Aedes["publish"] = (_packet: unknown, client: unknown, done?: (err?: Error) => void) => {
  const cb = typeof client === "function" ? (client as (err?: Error) => void) : done;
  cb?.();
};

/**
 * The embedded Aedes broker: listeners, hooks, and the map of live clients by id (the
 * device id), which replies and deactivation pushes use. Authorized requests leave it as
 * "request" events.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly aedes: Aedes;
  private mqttListeners?: MqttListeners;
  private listenersClosed?: Promise<void>;
  private readonly live = new Map<string, Client>();
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
      isConnected: (id) => this.live.get(id)?.closed === false,
      stopping: deps.stopping,
      refuse: deps.refuse,
      takeover: deps.takeover,
      checkProof: (clientId, username, password) =>
        checkConnectProof(
          {
            clientId,
            username,
            password: password && new Uint8Array(password.buffer, password.byteOffset, password.byteLength),
            nowSeconds: Math.floor(Date.now() / 1000),
          },
          deps.replay,
          cfg.maxSkewSeconds,
        ),
      bind: (client, decision) =>
        this.bindings.bind(client, decision.proof.deviceId, decision.proof.publicKey),
      hookFailed: (hook, err) => log.error({ hook, err: errorText(err) }, "broker hook failed; refusing"),
      // Queued before the hook answers Aedes, so requests keep their order even when the
      // answer lets Aedes parse the connection's next packets at once.
      authorized: (client, packet) => queueMicrotask(() => this.handOn(client, packet)),
    });
    this.aedes = new Aedes({
      ...hooks,
      // Device ids are 32 characters; Aedes' MQTT 3.1 default of 23 would refuse them.
      maxClientsIdLength: 64,
      // A CONNECT must follow the TCP connect promptly; idle half-open sockets are cheap DoS.
      connectTimeout: cfg.mqtt.connectTimeoutMs,
      // Devices talk to their two topics only: nothing needs deep topics or big queues.
      maxTopicLevels: 8,
      queueLimit: 16,
      maxInflightInbound: 16,
      heartbeatInterval: 60_000,
    });
    this.aedes.publish = routeNothing;
    this.aedes.on("client", (c) => {
      this.live.set(c.id, c);
      deps.onClientCount(this.live.size);
      this.timers.arm(c, cfg.mqtt.idleTimeoutMs, "idle");
    });
    this.aedes.on("clientDisconnect", (c) => {
      this.timers.clear(c);
      if (this.live.get(c.id) === c) this.live.delete(c.id);
      deps.onClientCount(this.live.size);
    });
    this.aedes.on("clientError", (c, err) =>
      log.debug({ clientId: c.id, err: errorText(err) }, "client error"),
    );
    this.aedes.on("connectionError", (_c, err) => {
      if (err.message === "connect did not arrive in time") deps.sessionClosed("connect_timeout");
      log.debug({ err: errorText(err) }, "connection error");
    });
    // Aedes emits "error" for persistence failures; unhandled it would crash the process.
    (this.aedes as unknown as NodeJS.EventEmitter).on("error", (err: Error) =>
      log.error({ err: errorText(err) }, "broker error"),
    );
  }

  /** The request's listener never throws into Aedes or the microtask queue. */
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
    await this.aedes.listen();
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
    return this.live.size;
  }

  private accept(conn: Duplex, remote: string): void {
    if (this.deps.stopping()) {
      conn.destroy();
      return;
    }
    const guarded = guardConnection(conn, this.deps.cfg.limits.maxPacketBytes, (len) =>
      this.deps.refuse("frame_too_large", { remote, detail: `remaining length ${len}` }),
    );
    guarded.on("error", () => {}); // Aedes attaches its own; this covers the gap before it does.
    this.remotes.set(guarded, remote);
    this.aedes.handle(guarded);
  }

  /**
   * The connected client with this id, if any, and only if its session proved the key of
   * this device id at CONNECT [PROTO-41]: replies and deactivation notices go nowhere else.
   */
  client(deviceId: string): Client | undefined {
    const c = this.live.get(deviceId);
    return c && !c.closed && this.bindings.isBoundTo(c, deviceId) ? c : undefined;
  }

  /** The client's subscription to its own reply topic, if any (QoS granted). */
  private replySubscription(client: Client): { qos?: number } | undefined {
    return (client as unknown as { subscriptions?: Record<string, { qos?: number }> }).subscriptions?.[
      replyTopic(client.id)
    ];
  }

  /** Hands one reply to one client, at the QoS it subscribed with (at most 1), never retained. */
  private deliver(client: Client, qos: number, frame: Uint8Array, cb: (err?: Error) => void): void {
    client.publish(
      {
        cmd: "publish",
        topic: replyTopic(client.id),
        payload: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
        qos: qos > 0 ? 1 : 0,
        retain: false,
        dup: false,
      },
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
    const sub = client ? this.replySubscription(client) : undefined;
    if (!client || !sub) {
      this.deps.log.debug(
        { deviceId },
        "reply dropped: device not connected or not subscribed to its reply topic",
      );
      return Promise.resolve(false);
    }
    this.outstanding++;
    return new Promise<boolean>((resolve) => {
      this.deliver(client, sub.qos ?? 0, frame, (err) => {
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
    const sub = this.bindings.isBoundTo(client, client.id) ? this.replySubscription(client) : undefined;
    return new Promise((resolve) => {
      const close = (sent: boolean) => client.close(() => resolve(sent));
      if (!sub) return close(false);
      this.outstanding++;
      this.deliver(client, sub.qos ?? 0, frame, (err) => {
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
    return new Promise((resolve) => this.aedes.close(() => resolve()));
  }
}
