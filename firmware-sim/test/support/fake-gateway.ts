/**
 * A stand-in for gateway-mqtt in unit tests and the capacity bench: a real Aedes broker
 * on an ephemeral loopback port with the protocol's topic ACL, plus a responder that
 * verifies requests with the real codec and answers with replies signed by a real
 * gateway key. No Kubernetes; the reply policy is whatever the test says.
 */
import { createServer, type Server } from "node:net";
import {
  canPublish,
  canSubscribe,
  createGatewaySigner,
  decodeEnrollRequest,
  type EnrollReply,
  type EnrollRequest,
  encodeEnrollReply,
  type GatewaySigner,
  isValidDeviceId,
  PROTOCOL_VERSION,
  parseRequestTopic,
  replyTopic,
} from "@devreg/protocol";
import { Aedes } from "aedes";

type ReplySpec = Pick<
  EnrollReply,
  "status" | "deviceUUID" | "reason" | "message" | "retryAfterSeconds"
> & {
  /** Override the requestId the reply names (default: the request's). */
  requestId?: string;
};

interface DecideContext {
  /** 0 for a device's first request, then 1, 2, ... */
  attempt: number;
}

/** A reply to send, or "drop" to stay silent (the device will time out). */
export type Decide = (req: EnrollRequest, ctx: DecideContext) => ReplySpec | "drop";

export interface FakeGatewayOptions {
  /** Signs the replies; default a fresh Ed25519 key. */
  signer?: GatewaySigner;
  decide?: Decide;
  /** Listen port; default 0 (ephemeral). */
  port?: number;
}

export interface FakeGateway {
  url: string;
  port: number;
  publicKey: Uint8Array;
  broker: Aedes;
  /** Requests that verified, and the ones that did not. */
  stats: { requests: number; badRequests: number; replies: number };
  /** Last request seen per device. */
  lastRequest: Map<string, EnrollRequest>;
  /** Publishes raw bytes on a device's reply topic (forged or hand-made replies). */
  inject(deviceId: string, frame: Uint8Array): Promise<void>;
  /** Signs and sends a reply (e.g. an unsolicited deactivation). */
  reply(deviceId: string, reply: Omit<EnrollReply, "version" | "timestamp" | "deviceId">): Promise<void>;
  close(): Promise<void>;
}

/** A UUID derived from the deviceId, so "same key, same UUID" holds as with the real operator. */
export function uuidFor(deviceId: string): string {
  const h = deviceId;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const approveAll: Decide = (req) => ({ status: "approved", deviceUUID: uuidFor(req.deviceId) });

export async function startFakeGateway(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const signer = opts.signer ?? createGatewaySigner();
  const decide = opts.decide ?? approveAll;
  const broker = await Aedes.createBroker({
    preConnect: (_client, packet, done) => done(null, isValidDeviceId(packet.clientId)),
    // The test's own injections come from the broker itself (client null).
    authorizePublish: (client, packet, done) =>
      done(client === null || canPublish(client.id, packet.topic) ? null : new Error("not authorized")),
    authorizeSubscribe: (client, sub, done) => done(null, canSubscribe(client.id, sub.topic) ? sub : null),
  });
  const stats = { requests: 0, badRequests: 0, replies: 0 };
  const attempts = new Map<string, number>();
  const lastRequest = new Map<string, EnrollRequest>();

  const send = (deviceId: string, frame: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: "publish",
          topic: replyTopic(deviceId),
          payload: Buffer.from(frame),
          qos: 1,
          retain: false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  broker.on("publish", (packet, client) => {
    if (!client) return;
    const deviceId = parseRequestTopic(packet.topic);
    if (!deviceId) return;
    const req = decodeEnrollRequest(new Uint8Array(packet.payload as Buffer), { expectedDeviceId: deviceId });
    if (!req.ok) {
      stats.badRequests++;
      return;
    }
    stats.requests++;
    lastRequest.set(deviceId, req.value);
    const attempt = attempts.get(deviceId) ?? 0;
    attempts.set(deviceId, attempt + 1);
    const spec = decide(req.value, { attempt });
    if (spec === "drop") return;
    const { requestId, ...fields } = spec;
    const frame = encodeEnrollReply(
      {
        version: PROTOCOL_VERSION,
        requestId: requestId ?? req.value.requestId,
        deviceId,
        timestamp: nowSeconds(),
        ...fields,
      },
      signer,
    );
    stats.replies++;
    void send(deviceId, frame).catch(() => {});
  });

  const server: Server = createServer(broker.handle);
  // A deep accept queue: a fleet ramping at hundreds of CONNECTs/s would overflow Node's
  // default 511 whenever this process is briefly busy, and dropped SYNs cost seconds.
  await new Promise<void>((resolve) =>
    server.listen({ port: opts.port ?? 0, host: "127.0.0.1", backlog: 4096 }, resolve),
  );
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    publicKey: signer.publicKey,
    broker,
    stats,
    lastRequest,
    inject: send,
    reply: (deviceId, reply) =>
      send(
        deviceId,
        encodeEnrollReply({ ...reply, version: PROTOCOL_VERSION, deviceId, timestamp: nowSeconds() }, signer),
      ),
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      // closeAllConnections is not on net.Server: connections end with the broker's clients.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
