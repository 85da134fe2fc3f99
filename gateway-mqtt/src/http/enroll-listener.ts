import { type Lifecycle, within } from "@devreg/runtime";
import { closeServer, listen } from "../broker/listeners.ts";
import { type EnrollHttpDeps, createEnrollServer } from "./enroll-server.ts";

export interface EnrollListener {
  port: number;
  /** Stops accepting; idle keep-alive connections close now, the rest when the stop list gets here. */
  stopAccepting(): void;
}

/** POST /enroll on its own port; on stop its connections close after the MQTT broker's. */
export async function startEnrollListener(deps: EnrollHttpDeps, life: Lifecycle): Promise<EnrollListener> {
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
  const port = await listen(server, deps.settings.port, deps.settings.host, "HTTP");
  return { port, stopAccepting };
}
