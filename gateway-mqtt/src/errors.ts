/** Stable codes for gateway failures. Callers switch on `code`, never on `message`. */
export type GatewayErrorCode =
  /** Options failed validation (zod); the message lists the offending fields. */
  | "E_GW_CONFIG"
  /** The gateway key could not be read, parsed or persisted. */
  | "E_GW_KEY"
  /** A listener could not bind (port in use, bad TLS material). */
  | "E_GW_LISTEN"
  /** The registration informer did not sync in time at start-up. */
  | "E_GW_KUBE_UNAVAILABLE"
  /** A connection was closed under us (write after close). */
  | "E_GW_CLOSED"
  /** A connection sent MQTT packets faster than limits.packetsPerConnection allows (destroyed). */
  | "E_GW_PACKET_RATE"
  /** An MQTT packet exceeded the transport frame limit. */
  | "E_GW_FRAME_TOO_LARGE"
  /** No CONNECT within the connect timeout after the connection opened. */
  | "E_GW_CONNECT_TIMEOUT"
  /** No packet for one and a half keepalive periods [MQTT-3.1.2-24]. */
  | "E_GW_KEEPALIVE"
  /** A packet MQTT 3.1.1 or the device protocol does not allow at that point (connection closed). */
  | "E_GW_PROTOCOL"
  /** A client that stopped reading what it is sent (connection closed). */
  | "E_GW_SLOW_READER"
  /** A broker-level refusal (ACL, rate limit, client id); see RefusalKind. */
  | "E_GW_REFUSED"
  /** The gateway is stopping. */
  | "E_GW_STOPPING";

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isGatewayError(err: unknown, code?: GatewayErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}

/** One line for logs from anything thrown; never includes payloads. */
export function errorText(err: unknown): string {
  if (err instanceof Error)
    return (err as { code?: unknown }).code
      ? `${String((err as { code?: unknown }).code)}: ${err.message}`
      : err.message;
  return String(err);
}
