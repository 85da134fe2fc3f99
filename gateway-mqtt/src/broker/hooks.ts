import type {
  AedesOptions,
  AedesPublishPacket,
  Client,
  ConnectPacket,
  PublishPacket,
  Subscription,
} from "aedes";
import type { GatewayConfig } from "../config.ts";
import { GatewayError } from "../errors.ts";
import { KeyedBuckets, TokenBucket } from "@devreg/runtime";
import {
  CONNACK_IDENTIFIER_REJECTED,
  type ConnectRefusal,
  checkConnect,
  checkPublish,
  checkSubscribe,
  mayForward,
} from "./acl.ts";
import type { ConnectDecision } from "./connect-auth.ts";
import type { RefusalKind } from "./refusals.ts";
import { checkKeepalive } from "./session-limits.ts";

/** CONNACK 3: Server unavailable [MQTT-3.2.2.3]; used for connect-rate refusals. */
const CONNACK_SERVER_UNAVAILABLE = 3;

export interface HookDeps {
  cfg: GatewayConfig;
  /** Remote address of a client's connection ("unknown" if not tracked). */
  remoteOf(client: Client): string;
  /** Whether a client with this id is connected right now (a CONNECT would take it over). */
  isConnected(clientId: string): boolean;
  stopping(): boolean;
  refuse(kind: RefusalKind, fields: { clientId?: string; remote?: string; detail?: string }): void;
  takeover(clientId: string, remote: string): void;
  /** [PROTO-39] The CONNECT proof decision (proof + replay memory) for these credentials. */
  checkProof(clientId: string, username: string | undefined, password: Buffer | undefined): ConnectDecision;
  /** [PROTO-41] Binds the session to the key it proved; called before Aedes registers it. */
  bind(client: Client, decision: ConnectDecision & { ok: true }): void;
  /** A hook threw (a bug): logged; the hook then refuses. */
  hookFailed(hook: string, err: unknown): void;
  /**
   * A request publish passed the ACL. The hook only authorizes: the broker hands the request
   * on (admission, enrollment) after the hook has answered Aedes.
   */
  authorized(client: Client, packet: PublishPacket): void;
}

type Hooks = Required<
  Pick<
    AedesOptions,
    "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward"
  >
>;

function refusalError(message: string): Error {
  return new GatewayError("E_GW_REFUSED", message);
}

/**
 * Aedes hooks with safe defaults: anything not explicitly allowed is refused, every
 * refusal is counted and logged, and no hook ever throws into Aedes (a throwing hook
 * would surface as an uncaught exception on the broker's event path).
 */
export function createHooks(deps: HookDeps): Hooks {
  const { cfg } = deps;
  const L = cfg.limits;
  const connectGlobal = new TokenBucket(L.connectGlobal);
  const connectPerAddress = new KeyedBuckets(L.connectPerAddress, L.maxTrackedKeys);
  const connectQuiet = new KeyedBuckets(L.connectQuietPerAddress, L.maxTrackedKeys);
  const takeovers = new KeyedBuckets(L.takeoverPerClient, L.maxTrackedKeys);
  // CONNECT facts are decided in preConnect (which sees the packet) and answered with a
  // CONNACK return code in authenticate (which can send one).
  const pending = new WeakMap<Client, ConnectRefusal>();

  const guard =
    <A extends unknown[]>(name: string, fn: (...a: A) => void, onThrow: (...a: A) => void) =>
    (...a: A) => {
      try {
        fn(...a);
      } catch (e) {
        deps.hookFailed(name, e);
        onThrow(...a);
      }
    };

  const preConnect = guard(
    "preConnect",
    (client: Client, packet: ConnectPacket, cb: (error: Error | null, success: boolean) => void) => {
      const remote = deps.remoteOf(client);
      const clientId = typeof packet.clientId === "string" ? packet.clientId : "";
      // An exhausted global connect rate still lets a quiet address in (a device
      // reconnecting while a few others flood): the flooders are the ones shed.
      if (
        deps.stopping() ||
        !connectPerAddress.tryTake(remote) ||
        (!connectGlobal.tryTake() && !connectQuiet.tryTake(remote))
      ) {
        pending.set(client, {
          kind: "connect_rate",
          returnCode: CONNACK_SERVER_UNAVAILABLE,
          message: "too many connects",
        });
        return cb(null, true);
      }
      const refusal =
        checkConnect({ clientId, hasWill: packet.will != null }) ??
        checkKeepalive(packet.keepalive ?? 0, cfg.mqtt.maxKeepaliveSeconds);
      if (refusal) {
        pending.set(client, refusal);
        return cb(null, true);
      }
      // No persistent sessions: the gateway keeps nothing for offline devices.
      packet.clean = true;
      cb(null, true);
    },
    (_c, _p, cb) => cb(refusalError("preConnect failed"), false),
  );

  const authenticate: Hooks["authenticate"] = guard(
    "authenticate",
    (client: Client, username: string | undefined, password: Buffer | undefined, done) => {
      const remote = deps.remoteOf(client);
      const refuseWith = (r: ConnectRefusal) => {
        deps.refuse(r.kind, { clientId: client.id, remote, detail: r.message });
        done(Object.assign(refusalError(r.message), { returnCode: r.returnCode }), null);
      };
      const refusal = pending.get(client);
      if (refusal) {
        pending.delete(client);
        return refuseWith(refusal);
      }
      // [PROTO-39] [PROTO-40] proof of key possession, before Aedes touches a session with
      // this id (it closes a duplicate only after authenticate succeeds).
      const decision = deps.checkProof(client.id, username, password);
      if (!decision.ok) return refuseWith(decision);
      if (deps.isConnected(client.id)) {
        // [PROTO-41] [MQTT-3.1.4-2] a proven CONNECT takes over the session of the same key.
        // Only proven CONNECTs count towards the takeover limit, so a squatter without the
        // key cannot use up the real device's allowance.
        if (!takeovers.tryTake(client.id)) {
          return refuseWith({
            kind: "takeover_rate",
            returnCode: CONNACK_IDENTIFIER_REJECTED,
            message: "client id already connected (takeover limit)",
          });
        }
        deps.takeover(client.id, remote);
      }
      deps.bind(client, decision);
      done(null, true);
    },
    (_c, _u, _p, done) => done(Object.assign(refusalError("authenticate failed"), { returnCode: 5 }), null),
  );

  const authorizePublish: Hooks["authorizePublish"] = guard(
    "authorizePublish",
    (client: Client | null, packet: PublishPacket, cb: (error?: Error | null) => void) => {
      if (!client) {
        deps.refuse("anonymous_publish", { detail: "publish without a client" });
        return cb(refusalError("publish without a client"));
      }
      const remote = deps.remoteOf(client);
      // [PROTO-5] own request topic only, never retained. MQTT 3.1.1 has no negative
      // PUBACK, so Aedes closes the connection on a refused publish.
      const kind = checkPublish({ clientId: client.id, topic: packet.topic, retain: packet.retain === true });
      if (kind) {
        deps.refuse(kind, { clientId: client.id, remote });
        return cb(refusalError(`publish refused: ${kind}`));
      }
      // Rate limits are the enroll service's admission, after this hook (limits/request-admission.ts).
      deps.authorized(client, packet);
      cb(null);
    },
    (_c, _p, cb) => cb(refusalError("authorizePublish failed")),
  );

  const authorizeSubscribe: Hooks["authorizeSubscribe"] = guard(
    "authorizeSubscribe",
    (
      client: Client,
      sub: Subscription,
      cb: (error: Error | null, subscription?: Subscription | null) => void,
    ) => {
      // [PROTO-5] own reply topic only, literally. A refused filter gets SUBACK 0x80 and the
      // connection stays (the MQTT way to say no to one filter).
      const kind = checkSubscribe(client.id, sub.topic);
      if (kind) {
        deps.refuse(kind, {
          clientId: client.id,
          remote: deps.remoteOf(client),
          detail: sub.topic.slice(0, 128),
        });
        return cb(null, null);
      }
      cb(null, { ...sub, qos: Math.min(sub.qos, 1) as Subscription["qos"] });
    },
    (_c, _s, cb) => cb(null, null),
  );

  const authorizeForward: Hooks["authorizeForward"] = (client: Client, packet: AedesPublishPacket) => {
    try {
      return mayForward(client.id, packet.topic) ? packet : null;
    } catch {
      return null;
    }
  };

  return { preConnect, authenticate, authorizePublish, authorizeSubscribe, authorizeForward };
}
