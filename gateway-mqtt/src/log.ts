import { type Logger, pino } from "pino";

/**
 * Structured logs. Never log payloads, keys or signatures: device ids, request ids,
 * outcomes, reasons and remote addresses only. The redact list is a second line of
 * defence for fields that must never appear even by accident.
 */
export const REDACT_PATHS = [
  "key",
  "privateKey",
  "privateKeyPem",
  "seed",
  "payload",
  "frame",
  "request",
  "password",
  "*.key",
  "*.privateKey",
  "*.privateKeyPem",
  "*.payload",
  "*.password",
];

export function createLogger(
  level: string,
  base?: Logger,
  gatewayId?: string,
  stream: "stdout" | "stderr" = "stdout",
): Logger {
  const bindings = { component: "gateway-mqtt", gatewayId };
  if (base) return base.child(bindings);
  const dest = pino.destination({ fd: stream === "stderr" ? 2 : 1, sync: true });
  return pino({ level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, dest).child(bindings);
}
