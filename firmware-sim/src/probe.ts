import { connect } from "node:net";
import { SimError } from "./errors.ts";

const DEFAULT_PORTS: Record<string, number> = { "mqtt:": 1883, "tcp:": 1883, "mqtts:": 8883, "ssl:": 8883 };

/**
 * One TCP connect to the broker before spawning a fleet, so "nothing listens there" is one
 * clear error instead of thousands of devices backing off until their deadline.
 * WebSocket URLs are not probed.
 */
export async function probeBroker(url: string, timeoutMs = 3000): Promise<void> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SimError("E_BAD_OPTION", `invalid MQTT URL ${url}`);
  }
  const defaultPort = DEFAULT_PORTS[u.protocol];
  if (defaultPort === undefined) return;
  const port = u.port ? Number(u.port) : defaultPort;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    const sock = connect({ host, port });
    const fail = (code: string) => {
      sock.destroy();
      reject(new SimError("E_GATEWAY_UNREACHABLE", `cannot reach gateway at ${url}: ${code}`));
    };
    sock.setTimeout(timeoutMs, () => fail("timed out"));
    sock.once("error", (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
    sock.once("connect", () => {
      sock.destroy();
      resolve();
    });
  });
}
