import { CONNECT_PROOF_REFUSALS } from "./connect-auth.ts";

/**
 * Every way the gateway refuses a client, as a closed set: each one is counted in
 * devreg_gateway_refusals_total{kind} and logged (without payloads or keys).
 */
export const REFUSAL_KINDS = [
  /** preConnect: too many CONNECTs globally or from one remote address. */
  "connect_rate",
  /** CONNECT at a protocol level other than MQTT 3.1/3.1.1 (CONNACK 1). */
  "protocol_version",
  /** CONNECT whose client id is not a device id [PROTO-5]. */
  "client_id",
  /** CONNECT carrying a will message (would publish to a topic later, unchecked). */
  "will",
  /** CONNECT with the client id of a connected client, over the takeover limit. */
  "takeover_rate",
  /** PUBLISH to any topic but the client's own request topic [PROTO-5]. */
  "publish_topic",
  /** PUBLISH with the retain flag: requests are never stored. */
  "publish_retain",
  /** PUBLISH at QoS 2: requests travel at QoS 1 (or 0) only. */
  "publish_qos",
  /** PUBLISH over the client's own rate limit (answered "busy" at most once per window; the connection stays). */
  "publish_rate",
  /** Request payload over MAX_REQUEST_BYTES [PROTO-13] (answered with an error reply). */
  "payload_too_large",
  /** MQTT packet over the transport frame limit (connection destroyed unread). */
  "frame_too_large",
  /** MQTT packets on one connection over limits.packetsPerConnection (connection destroyed unread). */
  "packet_rate",
  /** SUBSCRIBE to anything but the client's own reply topic, wildcards and $SYS included [PROTO-5]. */
  "subscribe_topic",
  /** The gateway-wide request rate is exhausted (answered "busy"). */
  "global_rate",
  /** HTTP POST /enroll over the per-address rate limit (answered 429). */
  "http_rate",
  /** A request that fails strict decoding, signature or clock checks [PROTO-24]. */
  "invalid_request",
  /** The request's public key is not the one the topic's device id names [PROTO-6]. */
  "key_mismatch",
  /** A nonce seen before [PROTO-23]. */
  "replay",
  /** A request while the replay memory is full of live nonces (answered "busy") [PROTO-23]. */
  "replay_full",
  /** A request from a remote address that holds its cap of live nonces (answered "busy") [PROTO-23b]. */
  "replay_address_full",
  /** A publish without a client (only wills could do that; they are refused). */
  "anonymous_publish",
  /** CONNECTs without a valid proof of key possession [PROTO-39], by kind. */
  ...CONNECT_PROOF_REFUSALS,
  /** A connection over the transport's total connection cap (closed at accept). */
  "connection_limit",
  /** A connection over the per-address connection cap (closed at accept). */
  "address_connection_limit",
  /** CONNECT with keepalive 0 or above the maximum [PROTO-5a] (CONNACK 5). */
  "keepalive",
  /** A client whose requests keep failing verification (disconnected) [PROTO-24]. */
  "invalid_frames",
  /** An HTTP socket ended by the header, request or idle timeout. */
  "http_timeout",
  /** An HTTP request the parser refused (answered 400, socket destroyed). */
  "http_malformed",
] as const;

export type RefusalKind = (typeof REFUSAL_KINDS)[number];
