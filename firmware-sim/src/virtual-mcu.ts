/**
 * The driver around the pure state machine: it owns the one timer, the MQTT link and
 * the identity file, carries out the machine's effects and turns I/O into events.
 */
import { EventEmitter } from "node:events";
import {
  type DeviceMetadata,
  type EnrollReply,
  newNonce,
  newRequestId,
  type ProtocolError,
  replyTopic,
  requestTopic,
} from "@devreg/protocol";
import { DEFAULT_RETRY, type RetrySettings } from "./backoff.ts";
import { type CryptoBackendName, type DeviceCrypto, deviceCrypto } from "./device-crypto.ts";
import { SimError } from "./errors.ts";
import { type DeviceIdentity, loadOrCreateIdentity, saveIdentity } from "./identity.ts";
import {
  type FinalPhase,
  initialState,
  isFinal,
  type MachineSettings,
  type McuCounters,
  type McuEffect,
  type McuEvent,
  type McuPhase,
  type McuState,
  nextWake,
  transition,
} from "./machine.ts";
import { MqttLink } from "./mqtt-link.ts";

export const DEFAULT_METADATA: Readonly<DeviceMetadata> = Object.freeze({
  model: "devreg-sim",
  firmwareVersion: "0.1.0",
});
export const DEFAULT_DEADLINE_MS = 10 * 60_000;

export interface VirtualMcuOptions {
  /** e.g. mqtt://127.0.0.1:1883 */
  mqttUrl: string;
  /** The gateway's Ed25519 public key (32 bytes), pinned: replies signed by anything else are refused. */
  gatewayPublicKey: Uint8Array;
  /** In-memory identity; if absent, loaded from (or created at) `identityPath`. */
  identity?: DeviceIdentity;
  /** The device's "flash". The UUID is written back here on enrollment. */
  identityPath?: string;
  metadata?: DeviceMetadata;
  /** Default "tweetnacl", as firmware would; "node" for fleets. */
  crypto?: CryptoBackendName | DeviceCrypto;
  retry?: Partial<RetrySettings>;
  /** Give up the whole enrollment after this long (from boot). Default 10 min; Infinity for never. */
  deadlineMs?: number;
  /** Keep the session after enrollment to hear a deactivation push. Default true. */
  stayConnected?: boolean;
  /** Retry after "rejected" as SPEC [PROTO-31] says, instead of ending there. Default false. */
  retryRejected?: boolean;
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
  /** Connect from this source address: the device's own host on a loopback fleet. */
  localAddress?: string;
  /** mqtts:// only: PEM CA certificate(s) to trust instead of the system's (a self-signed gateway). */
  tlsCa?: string;
  /** Milliseconds clock; default Date.now (which vitest's fake timers also drive). */
  clock?: () => number;
  /** [0, 1) source for jitter; default Math.random. */
  random?: () => number;
}

export interface McuOutcome {
  deviceId: string;
  phase: FinalPhase;
  deviceUUID?: string;
  /** Gateway reason (rejected, deactivated) or failure reason (failed). */
  reason?: string;
  /** The last transient problem before the end, e.g. "ECONNREFUSED" behind a "deadline". */
  lastError?: string;
  bootToFinalMs: number;
  /** Publish of the last request to its verified final reply; absent if none. */
  replyLatencyMs?: number;
  counters: McuCounters;
}

export type VirtualMcuEvents = {
  state: [phase: McuPhase, previous: McuPhase];
  published: [requestId: string];
  reply: [reply: EnrollReply];
  "reply-refused": [error: ProtocolError];
  enrolled: [deviceUUID: string];
  /** Entered a final phase (enrolled may later be followed by deactivated). */
  final: [outcome: McuOutcome];
  /** Something went wrong that does not change the state, e.g. the UUID could not be saved. */
  warning: [error: SimError];
};

export class VirtualMcu extends EventEmitter<VirtualMcuEvents> {
  readonly #opts: VirtualMcuOptions;
  readonly #crypto: DeviceCrypto;
  readonly #settings: MachineSettings;
  readonly #clock: () => number;
  readonly #random: () => number;
  #identity: DeviceIdentity | undefined;
  #state: McuState;
  #link: MqttLink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt: number | undefined;
  #queue: McuEvent[] = [];
  #busy = false;
  #saving: Promise<void> = Promise.resolve();
  #closing: Promise<void> = Promise.resolve();
  #fatal: SimError | undefined;
  #done: Promise<McuOutcome> | undefined;

  constructor(opts: VirtualMcuOptions) {
    super();
    if (!(opts.gatewayPublicKey instanceof Uint8Array) || opts.gatewayPublicKey.length !== 32) {
      throw new SimError("E_BAD_OPTION", "gatewayPublicKey must be 32 bytes");
    }
    if (!opts.identity && !opts.identityPath)
      throw new SimError("E_BAD_OPTION", "identity or identityPath is required");
    this.#opts = opts;
    this.#crypto = deviceCrypto(opts.crypto);
    this.#settings = {
      ...DEFAULT_RETRY,
      ...opts.retry,
      stayConnected: opts.stayConnected ?? true,
      retryRejected: opts.retryRejected ?? false,
      deadlineMs: Number.isFinite(opts.deadlineMs ?? DEFAULT_DEADLINE_MS)
        ? (opts.deadlineMs ?? DEFAULT_DEADLINE_MS)
        : undefined,
    };
    this.#clock = opts.clock ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#identity = opts.identity;
    this.#state = initialState(this.#clock());
  }

  get state(): McuState {
    return this.#state;
  }

  get deviceId(): string | undefined {
    return this.#identity?.deviceId;
  }

  get identity(): DeviceIdentity | undefined {
    return this.#identity;
  }

  /**
   * Boots the device. Resolves with the first final outcome; rejects only with a SimError
   * the device cannot recover from (identity file unusable).
   */
  start(): Promise<McuOutcome> {
    this.#done ??= new Promise<McuOutcome>((resolve, reject) => {
      const onFinal = (o: McuOutcome) => {
        this.off("final", onFinal);
        if (this.#fatal) reject(this.#fatal);
        else resolve(o);
      };
      this.on("final", onFinal);
      this.#dispatch({ type: "boot" });
    });
    return this.#done;
  }

  /** Stops the device (a live one ends "failed: stopped") and waits for its session and file writes. */
  async stop(): Promise<void> {
    this.#dispatch({ type: "stop" });
    await this.#closing;
    await this.#saving;
  }

  outcome(): McuOutcome | undefined {
    const s = this.#state;
    if (!isFinal(s.phase)) return undefined;
    return {
      deviceId: s.deviceId ?? this.#identity?.deviceId ?? "",
      phase: s.phase,
      deviceUUID: s.deviceUUID,
      reason: s.reason,
      lastError: s.lastError,
      bootToFinalMs: (s.finishedAt ?? this.#clock()) - s.bootAt,
      replyLatencyMs: s.replyLatencyMs,
      counters: s.counters,
    };
  }

  #dispatch(event: McuEvent): void {
    this.#queue.push(event);
    if (this.#busy) return; // effects may raise events synchronously: run them after this one
    this.#busy = true;
    try {
      for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift()) this.#step(e);
    } finally {
      this.#busy = false;
    }
  }

  #step(event: McuEvent): void {
    const prev = this.#state;
    const { state, effects } = transition(prev, event, {
      now: this.#clock(),
      random: this.#random,
      newRequestId,
      settings: this.#settings,
    });
    this.#state = state;
    for (const effect of effects) this.#run(effect);
    this.#armTimer();
    if (event.type === "reply") this.emit("reply", event.reply);
    if (state.phase !== prev.phase) {
      this.emit("state", state.phase, prev.phase);
      if (state.phase === "enrolled") this.emit("enrolled", state.deviceUUID!);
      if (isFinal(state.phase)) this.emit("final", this.outcome()!);
    }
  }

  #armTimer(): void {
    const at = nextWake(this.#state);
    if (at === this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        this.#dispatch({ type: "timer" });
      },
      Math.max(0, at - this.#clock()),
    );
  }

  #run(effect: McuEffect): void {
    switch (effect.type) {
      case "load-identity":
        this.#loadIdentity();
        return;
      case "connect":
        this.#connect();
        return;
      case "publish":
        this.#publish(effect.requestId, effect.timestamp);
        return;
      case "save-uuid":
        this.#saveUuid(effect.deviceUUID);
        return;
      case "disconnect": {
        const link = this.#link;
        this.#link = undefined;
        if (link) this.#closing = link.close();
        return;
      }
    }
  }

  #loadIdentity(): void {
    const loaded = (id: DeviceIdentity) => {
      this.#identity = id;
      this.#dispatch({ type: "identity-loaded", deviceId: id.deviceId, deviceUUID: id.deviceUUID });
    };
    if (this.#identity) {
      loaded(this.#identity);
      return;
    }
    loadOrCreateIdentity(this.#opts.identityPath!, this.#crypto).then(loaded, (err: unknown) => {
      const fatal =
        err instanceof SimError ? err : new SimError("E_IDENTITY_IO", String(err), { cause: err });
      this.#failFatal("identity", fatal);
    });
  }

  #connect(): void {
    void this.#link?.close();
    const identity = this.#identity!;
    const deviceId = identity.deviceId;
    // [PROTO-37] a new proof (new nonce, device clock corrected as learnt) for every CONNECT.
    const password = this.#crypto.encodeConnectProof({
      keyPair: identity.keyPair(),
      nonce: newNonce(),
      timestamp: Math.floor((this.#clock() + this.#state.clockOffsetMs) / 1000),
    });
    const link: MqttLink = new MqttLink(
      {
        url: this.#opts.mqttUrl,
        clientId: deviceId,
        password,
        replyTopic: replyTopic(deviceId),
        keepaliveSeconds: this.#opts.keepaliveSeconds ?? 60,
        connectTimeoutMs: this.#opts.connectTimeoutMs ?? 30_000,
        localAddress: this.#opts.localAddress,
        tlsCa: this.#opts.tlsCa,
      },
      {
        // Events from a link that was replaced or closed are stale.
        ready: () => this.#link === link && this.#dispatch({ type: "connected" }),
        failed: (error) => {
          if (this.#link !== link) return;
          this.#link = undefined;
          this.#dispatch({ type: "connect-failed", error });
        },
        closed: (error) => {
          if (this.#link !== link) return;
          this.#link = undefined;
          this.#dispatch({ type: "disconnected", error });
        },
        message: (frame) => this.#link === link && this.#onFrame(frame),
      },
    );
    this.#link = link;
  }

  #onFrame(frame: Uint8Array): void {
    // Verify before anything else looks at the payload: an unverified reply is never acted on. [PROTO-29]
    const r = this.#crypto.verifyReply(frame, this.#opts.gatewayPublicKey);
    if (r.ok) {
      this.#dispatch({ type: "reply", reply: r.value });
    } else {
      this.emit("reply-refused", r.error);
      this.#dispatch({ type: "reply-refused", code: r.error.code });
    }
  }

  #failFatal(reason: "identity" | "bad-request", error: SimError): void {
    this.#fatal = error;
    this.#dispatch({ type: "fatal", reason, error: error.code });
  }

  #publish(requestId: string, timestamp: number): void {
    const identity = this.#identity!;
    let frame: Uint8Array;
    try {
      frame = this.#crypto.encodeRequest({
        keyPair: identity.keyPair(),
        requestId,
        nonce: newNonce(),
        timestamp,
        metadata: this.#opts.metadata ?? DEFAULT_METADATA,
      });
    } catch (err) {
      // Only invalid metadata gets here (the codec refuses it): retrying cannot help.
      const msg = err instanceof Error ? err.message : String(err);
      this.#failFatal("bad-request", new SimError("E_BAD_OPTION", `cannot encode enroll request: ${msg}`));
      return;
    }
    this.#link?.publish(requestTopic(identity.deviceId), frame);
    this.emit("published", requestId);
  }

  #saveUuid(deviceUUID: string): void {
    const identity = this.#identity!;
    identity.deviceUUID = deviceUUID;
    const path = this.#opts.identityPath;
    if (!path) return;
    // Chained so two quick updates cannot land out of order.
    this.#saving = this.#saving.then(() =>
      saveIdentity(path, identity).catch((err: unknown) => {
        this.emit("warning", err instanceof SimError ? err : new SimError("E_IDENTITY_IO", String(err)));
      }),
    );
  }
}
