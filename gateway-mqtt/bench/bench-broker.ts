import { ReplayGuard } from "@devreg/protocol";
import { Lifecycle, silentLogger } from "@devreg/runtime";
import { Broker } from "../src/broker/broker.ts";
import { parseGatewayOptions } from "../src/config.ts";
import { ConnectionLimiter } from "../src/limits/connection-limiter.ts";

/**
 * The gateway's real Broker on a loopback port for the in-process benches, with no Kubernetes
 * behind it and the connect-rate limits opened (the benches measure CPU, not the limits).
 */
export async function startBenchBroker(): Promise<{ broker: Broker; life: Lifecycle }> {
  const cfg = parseGatewayOptions({
    mqtt: { host: "127.0.0.1", port: 0 },
    limits: {
      connectGlobal: { ratePerSecond: 1e6, burst: 1e6 },
      connectPerAddress: { ratePerSecond: 1e6, burst: 1e6 },
    },
  });
  const broker = new Broker({
    cfg,
    log: silentLogger(),
    stopping: () => false,
    refuse: () => {},
    takeover: () => {},
    onClientCount: () => {},
    replay: new ReplayGuard(),
    connections: new ConnectionLimiter(cfg.limits.mqttConnections),
    sessionClosed: () => {},
  });
  const life = new Lifecycle();
  await broker.start(life);
  return { broker, life };
}
