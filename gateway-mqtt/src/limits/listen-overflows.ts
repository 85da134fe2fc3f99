import { readFileSync } from "node:fs";

/**
 * Connections the kernel dropped because a listener's accept queue was full
 * (TcpExt ListenOverflows in /proc/net/netstat): the sign that a reconnect storm outran
 * `mqtt.listenBacklog`. Counted for the whole network namespace (in Kubernetes, the pod).
 */
export function parseListenOverflows(netstat: string): number | undefined {
  const lines = netstat.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.split(" ");
    const values = lines[i + 1]!.split(" ");
    if (names[0] !== "TcpExt:" || values[0] !== "TcpExt:") continue;
    const at = names.indexOf("ListenOverflows");
    const n = at > 0 ? Number(values[at]) : Number.NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** The current count, or undefined where /proc/net/netstat is not there (not Linux). */
export function readListenOverflows(path = "/proc/net/netstat"): number | undefined {
  try {
    return parseListenOverflows(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}
