/**
 * One device's MQTT 3.1.1 session: connect with clientId = username = deviceId and a
 * connect proof as password [PROTO-37], subscribe to the
 * reply topic, publish requests. mqtt.js reconnection is off (reconnectPeriod 0): the
 * state machine owns retry and backoff, so a fleet does not reconnect in lockstep.
 * Reports exactly one of ready/failed, then at most one closed.
 */
import net from "node:net";
import tls from "node:tls";
import { connect, type IClientOptions, MqttClient } from "mqtt";

export interface LinkOptions {
  url: string;
  clientId: string;
  /** [PROTO-37] CONNECT password: a fresh connect proof; the username is the client id. */
  password: Uint8Array;
  replyTopic: string;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  /** Source address to connect from (mqtt:// and mqtts://), e.g. one of 127.0.0.0/8 per simulated host. */
  localAddress?: string;
  /** mqtts:// only: PEM CA certificate(s) the device trusts instead of the system's, e.g. a self-signed gateway's. */
  tlsCa?: string;
}

/**
 * mqtt.js's own TCP and TLS builders take no source address, so with one the stream is built
 * here; mqtt.js exports MqttClient with a stream-builder constructor for exactly this.
 * mqtts:// verifies the gateway's certificate (against `tlsCa` when given), as firmware must.
 */
function openClient(
  url: string,
  localAddress: string | undefined,
  tlsCa: string | undefined,
  options: IClientOptions,
): MqttClient {
  const u = new URL(url);
  const secure = u.protocol === "mqtts:";
  const trust = secure && tlsCa !== undefined ? { ca: tlsCa } : {};
  if (!localAddress || (u.protocol !== "mqtt:" && !secure)) return connect(url, { ...options, ...trust });
  const host = u.hostname;
  const port = Number(u.port || (secure ? 8883 : 1883));
  const stream = secure
    ? () =>
        tls.connect({
          socket: net.createConnection({ host, port, localAddress }),
          host,
          servername: net.isIP(host) ? undefined : host,
          ...trust,
        })
    : () => net.createConnection({ host, port, localAddress });
  return new MqttClient(stream, { ...options, host, port, protocol: secure ? "mqtts" : "mqtt" });
}

export interface LinkHandlers {
  /** Connected and subscribed: replies can arrive. */
  ready(): void;
  /** Never became ready; `error` is a short code such as ECONNREFUSED or connack-5. */
  failed(error: string): void;
  /** Was ready, then lost. */
  closed(error: string | undefined): void;
  message(payload: Uint8Array): void;
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string") return e.code;
  if (typeof e?.code === "number") return `connack-${e.code}`;
  return typeof e?.message === "string" ? e.message : String(err);
}

export class MqttLink {
  readonly #client: MqttClient;
  readonly #handlers: LinkHandlers;
  #ready = false;
  #done = false;
  #lastError: string | undefined;
  #released: Promise<void> | undefined;

  constructor(opts: LinkOptions, handlers: LinkHandlers) {
    this.#handlers = handlers;
    this.#client = openClient(opts.url, opts.localAddress, opts.tlsCa, {
      clientId: opts.clientId,
      username: opts.clientId,
      password: Buffer.from(opts.password.buffer, opts.password.byteOffset, opts.password.byteLength),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      keepalive: opts.keepaliveSeconds,
      connectTimeout: opts.connectTimeoutMs,
      resubscribe: false,
      queueQoSZero: false,
    });
    const c = this.#client;
    c.on("connect", () => {
      c.subscribe(opts.replyTopic, { qos: 1 }, (err, granted) => {
        if (this.#done) return;
        if (err || granted?.[0]?.qos === 128) {
          this.#fail(err ? errorCode(err) : "subscribe-refused");
          return;
        }
        this.#ready = true;
        this.#handlers.ready();
      });
    });
    c.on("message", (_topic, payload) => {
      if (this.#ready && !this.#done) this.#handlers.message(payload);
    });
    c.on("error", (err) => {
      this.#lastError = errorCode(err);
    });
    c.on("close", () => {
      if (this.#done) return;
      if (this.#ready) {
        this.#done = true;
        this.#release();
        this.#handlers.closed(this.#lastError);
      } else {
        this.#fail(this.#lastError ?? "closed");
      }
    });
  }

  get ready(): boolean {
    return this.#ready && !this.#done;
  }

  /** QoS 1; a failed publish surfaces as a reply timeout or a close, like on a real device. */
  publish(topic: string, payload: Uint8Array): void {
    if (!this.ready) return;
    this.#client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), {
      qos: 1,
    });
  }

  /** Idempotent; no handler runs after it. */
  close(): Promise<void> {
    this.#done = true;
    return this.#release();
  }

  #fail(error: string): void {
    if (this.#done) return;
    this.#done = true;
    void this.#release();
    this.#handlers.failed(error);
  }

  #release(): Promise<void> {
    const c = this.#client;
    this.#released ??= new Promise((resolve) => {
      c.end(true, {}, () => {
        c.removeAllListeners();
        // end() may still surface a late socket error; keep one no-op listener so it is not thrown.
        c.on("error", () => {});
        resolve();
      });
    });
    return this.#released;
  }
}
