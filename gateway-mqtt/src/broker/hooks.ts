import type { IConnectPacket, IPublishPacket } from "mqtt-packet";
import type { GatewayConfig } from "../config.ts";
import { KeyedBuckets, TokenBucket, limitKey } from "@devreg/runtime";
import {
  CONNACK_IDENTIFIER_REJECTED,
  type ConnectRefusal,
  checkConnect,
  checkPublish,
  checkSubscribe,
  mayForward,
} from "./acl.ts";
import type { ConnectDecision } from "./connect-auth.ts";
import { type DeviceSession, SUBACK_FAILURE, type SessionHooks } from "./device-session.ts";
import type { RefusalKind } from "./refusals.ts";
import { checkKeepalive } from "./session-limits.ts";

/** CONNACK 3: Server unavailable [MQTT-3.2.2.3]; used for connect-rate refusals. */
const CONNACK_SERVER_UNAVAILABLE = 3;

export interface HookDeps {
  cfg: GatewayConfig;
  /** Remote address of a session's connection ("unknown" if not tracked). */
  remoteOf(session: DeviceSession): string;
  /** Whether a client with this id is connected right now (a CONNECT would take it over). */
  isConnected(clientId: string): boolean;
  stopping(): boolean;
  refuse(kind: RefusalKind, fields: { clientId?: string; remote?: string; detail?: string }): void;
  takeover(clientId: string, remote: string): void;
  /**
   * [PROTO-39] The CONNECT proof decision (proof + replay memory) for these credentials;
   * `source`: the remote address's limit key, whose share of the replay memory is bounded [PROTO-23b].
   */
  checkProof(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    source: string,
  ): ConnectDecision;
  /** [PROTO-41] Binds the session to the key it proved; called before the session is registered. */
  bind(session: DeviceSession, decision: ConnectDecision & { ok: true }): void;
  /** A hook threw (a bug): logged; the hook then refuses. */
  hookFailed(hook: string, err: unknown): void;
}

/** CONNACK 5 for a CONNECT the gateway failed to decide (a bug, logged by hookFailed; not counted as a refusal kind): refused, never let in. */
const HOOK_FAILED: ConnectRefusal = { kind: "client_id", returnCode: 5, message: "connect check failed" };

/**
 * The gateway's answers to a device session's packets, with safe defaults: anything not
 * explicitly allowed is refused, every refusal is counted and logged, and a hook that throws
 * (a bug) refuses instead of throwing into the session.
 */
export function createHooks(deps: HookDeps): SessionHooks {
  const { cfg } = deps;
  const L = cfg.limits;
  const connectGlobal = new TokenBucket(L.connectGlobal);
  const connectPerAddress = new KeyedBuckets(L.connectPerAddress, L.maxTrackedKeys);
  const connectQuiet = new KeyedBuckets(L.connectQuietPerAddress, L.maxTrackedKeys);
  const takeovers = new KeyedBuckets(L.takeoverPerClient, L.maxTrackedKeys);
  const guard =
    <A extends unknown[], R>(name: string, fn: (...a: A) => R, onThrow: R) =>
    (...a: A): R => {
      try {
        return fn(...a);
      } catch (e) {
        deps.hookFailed(name, e);
        return onThrow;
      }
    };

  const connect = guard(
    "connect",
    (session: DeviceSession, packet: IConnectPacket): ConnectRefusal | null => {
      const remote = deps.remoteOf(session); // raw, for the log line and event
      const source = limitKey(remote, L.ipv6PrefixLength); // what per-address limits count
      const refuse = (r: ConnectRefusal) => {
        deps.refuse(r.kind, { clientId: session.id, remote, detail: r.message });
        return r;
      };
      // An exhausted global connect rate still lets a quiet address in (a device
      // reconnecting while a few others flood): the flooders are the ones shed.
      if (
        deps.stopping() ||
        !connectPerAddress.tryTake(source) ||
        (!connectGlobal.tryTake() && !connectQuiet.tryTake(source))
      ) {
        return refuse({
          kind: "connect_rate",
          returnCode: CONNACK_SERVER_UNAVAILABLE,
          message: "too many connects",
        });
      }
      const refusal =
        checkConnect({
          clientId: session.id,
          hasWill: packet.will != null,
          protocolVersion: packet.protocolVersion ?? 0,
        }) ?? checkKeepalive(packet.keepalive ?? 0, cfg.mqtt.maxKeepaliveSeconds);
      if (refusal) return refuse(refusal);
      // [PROTO-39] [PROTO-40] proof of key possession, before a session with this id is touched
      // (a duplicate is closed only once this CONNECT is accepted). Sessions are always clean:
      // the gateway keeps nothing for offline devices.
      const password = packet.password;
      const decision = deps.checkProof(
        session.id,
        packet.username,
        password === undefined
          ? undefined
          : Buffer.from(password.buffer, password.byteOffset, password.byteLength),
        source,
      );
      if (!decision.ok) return refuse(decision);
      if (deps.isConnected(session.id)) {
        // [PROTO-41] [MQTT-3.1.4-2] a proven CONNECT takes over the session of the same key.
        // Only proven CONNECTs count towards the takeover limit, so a squatter without the
        // key cannot use up the real device's allowance.
        if (!takeovers.tryTake(session.id)) {
          return refuse({
            kind: "takeover_rate",
            returnCode: CONNACK_IDENTIFIER_REJECTED,
            message: "client id already connected (takeover limit)",
          });
        }
        deps.takeover(session.id, remote);
      }
      deps.bind(session, decision);
      return null;
    },
    HOOK_FAILED,
  );

  const publish = guard(
    "publish",
    (session: DeviceSession, packet: IPublishPacket): boolean => {
      // [PROTO-5] own request topic only, QoS 0 or 1, never retained. MQTT 3.1.1 has no
      // negative PUBACK, so a refused publish closes the connection.
      const kind = checkPublish({
        clientId: session.id,
        topic: packet.topic,
        retain: packet.retain === true,
        qos: packet.qos,
      });
      if (kind) {
        deps.refuse(kind, { clientId: session.id, remote: deps.remoteOf(session) });
        return false;
      }
      // Rate limits are the enroll service's admission, after this (limits/request-admission.ts).
      return true;
    },
    false,
  );

  const subscribe = guard(
    "subscribe",
    (session: DeviceSession, topic: string, qos: number): number => {
      // [PROTO-5] own reply topic only, literally. A refused filter gets SUBACK 0x80 and the
      // connection stays (the MQTT way to say no to one filter).
      const kind = checkSubscribe(session.id, topic);
      if (kind) {
        deps.refuse(kind, {
          clientId: session.id,
          remote: deps.remoteOf(session),
          detail: topic.slice(0, 128),
        });
        return SUBACK_FAILURE;
      }
      return Math.min(qos, 1);
    },
    SUBACK_FAILURE,
  );

  const forward = guard(
    "forward",
    (session: DeviceSession, topic: string): boolean => mayForward(session.id, topic),
    false,
  );

  return { connect, publish, subscribe, forward };
}
