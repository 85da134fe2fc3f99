import { type Lifecycle, within } from "@devreg/runtime";
import { closeServer, listen } from "../broker/listeners.ts";
import { type EnrollHttpDeps, createEnrollServer } from "./enroll-server.ts";

export interface EnrollListener {
  /** Binds the port and starts serving; call once the rest of the gateway can answer. */
  listen(): Promise<number>;
  /** Stops accepting; idle keep-alive connections close now, the rest when the stop list gets here. */
  stopAccepting(): void;
}

/**
 * POST /enroll on its own port. Its stop step is registered now (before the broker's, so its
 * connections close after the MQTT broker's) but it serves only after `listen()`: a gateway whose
 * broker fails to start never takes an HTTP enrollment it cannot finish.
 */
export function createEnrollListener(deps: EnrollHttpDeps, life: Lifecycle): EnrollListener {
  const server = createEnrollServer(deps);
  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    closed ??= closeServer(server);
    server.closeIdleConnections();
  };
  life.onStop("HTTP listener", async () => {
    stopAccepting();
    server.closeAllConnections();
    await within(closed ?? Promise.resolve(), 2_000);
  });
  return {
    listen: () => listen(server, deps.settings.port, deps.settings.host, "HTTP"),
    stopAccepting,
  };
}
