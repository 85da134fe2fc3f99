import net from "node:net";
import nodeTls from "node:tls";
import mqttPacket from "mqtt-packet";
import { describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { selfSigned } from "../../../kube/test-support/self-signed.ts";
import { parseGatewayOptions } from "../config.ts";
import { closeServer, listen, startMqttListeners } from "./listeners.ts";

/**
 * Milliseconds until the server closes a TCP connection that sends nothing (or, with `dribble`,
 * that text one byte every 50 ms), or `limitMs` if it does not.
 */
async function openFor(port: number, limitMs: number, dribble = ""): Promise<number> {
  const sock = net.connect(port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const t0 = performance.now();
  let i = 0;
  const drip = setInterval(() => i < dribble.length && sock.write(dribble[i++]!), 50);
  const closed = new Promise<number>((r) => sock.once("close", () => r(performance.now() - t0)));
  const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(limitMs), limitMs))]);
  clearInterval(drip);
  sock.destroy();
  return ms;
}

describe("listen", () => {
  it("passes the accept-queue length to the kernel, and names what failed to bind", async () => {
    const server = net.createServer();
    const spy = vi.spyOn(server, "listen");
    const port = await listen(server, 0, "127.0.0.1", "MQTT", 8_192);
    expect(port).toBeGreaterThan(0);
    expect(spy.mock.calls[0]?.[0]).toMatchObject({ port: 0, host: "127.0.0.1", backlog: 8_192 });
    const other = net.createServer();
    await expect(listen(other, port, "127.0.0.1", "MQTT")).rejects.toMatchObject({
      code: "E_GW_LISTEN",
      message: expect.stringContaining("MQTT cannot listen"),
    });
    await closeServer(server);
  });
});

describe("startMqttListeners", () => {
  it.each([
    ["TLS", true],
    ["plain TCP", false],
  ])(
    "[PROTO-5a] %s: a handshake or WebSocket upgrade that never comes is closed within the connect timeout; an upgraded session is not",
    async (_name, withTls) => {
      const connectTimeoutMs = 400;
      const tls = withTls ? selfSigned() : undefined;
      const cfg = parseGatewayOptions({
        gatewayId: "gw",
        mqtt: { host: "127.0.0.1", port: 0, connectTimeoutMs },
        ws: { host: "127.0.0.1", port: 0 },
        ...(tls ? { tls } : {}),
      });
      const conns: Array<{ destroy(): void }> = [];
      const listeners = await startMqttListeners(
        cfg,
        (conn) => conns.push(conn),
        () => true,
      );
      try {
        // TCP that sends nothing: no TLS handshake, no upgrade request.
        const silent = [openFor(listeners.wsPort!, 5_000)];
        if (withTls) silent.push(openFor(listeners.mqttPort, 5_000));
        // A request head sent a byte at a time gets no longer.
        else
          silent.push(
            openFor(listeners.wsPort!, 5_000, "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"),
          );
        for (const ms of await Promise.all(silent)) expect(ms).toBeLessThan(connectTimeoutMs + 1_500);
        // An upgraded WebSocket, or a TLS connection past its handshake, is the session's from
        // here: the handshake and HTTP timeouts no longer apply.
        const scheme = withTls ? "wss" : "ws";
        const ws = new WebSocket(`${scheme}://127.0.0.1:${listeners.wsPort}/mqtt`, {
          rejectUnauthorized: false,
        });
        await new Promise((r, j) => ws.once("open", r).once("error", j));
        ws.send(mqttPacket.generate({ cmd: "pingreq" }));
        const secured = withTls
          ? nodeTls.connect({ port: listeners.mqttPort, host: "127.0.0.1", rejectUnauthorized: false })
          : undefined;
        if (secured) await new Promise((r, j) => secured.once("secureConnect", r).once("error", j));
        await new Promise((r) => setTimeout(r, connectTimeoutMs + 1_500));
        expect(ws.readyState).toBe(WebSocket.OPEN);
        expect(secured?.destroyed ?? false).toBe(false);
        expect(conns).toHaveLength(withTls ? 2 : 1);
        ws.terminate();
        secured?.destroy();
      } finally {
        for (const c of conns) c.destroy();
        await listeners.close();
      }
    },
  );
});
