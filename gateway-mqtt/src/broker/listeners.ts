import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { WebSocketServer, createWebSocketStream } from "ws";
import type { GatewayConfig } from "../config.ts";
import { GatewayError, errorText } from "../errors.ts";

/** Hands a new connection (any transport) and its remote address to the broker. */
export type ConnectionHandler = (conn: Duplex, remote: string) => void;
/**
 * Decides on a raw socket before a byte of it is read (before TLS or the WebSocket
 * upgrade): false means it was refused and destroyed. Counts it until it closes.
 */
export type SocketAdmission = (socket: net.Socket) => boolean;

export interface MqttListeners {
  mqttPort: number;
  wsPort?: number;
  /** Stops accepting; existing connections stay until the broker closes them. */
  close(): Promise<void>;
}

function pem(v: string): string {
  return v.includes("-----BEGIN") ? v : readFileSync(v, "utf8");
}

export function listen(
  server: net.Server,
  port: number,
  host: string,
  what: string,
  backlog?: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) =>
      reject(new GatewayError("E_GW_LISTEN", `${what} cannot listen on ${host}:${port}: ${errorText(e)}`));
    server.once("error", onError);
    server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) }, () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * MQTT 3.1.1 over TCP (TLS when cert+key are given), and optionally over WebSocket
 * (ws + createWebSocketStream) on its own port and path.
 */
export async function startMqttListeners(
  cfg: GatewayConfig,
  onConnection: ConnectionHandler,
  admit: SocketAdmission,
): Promise<MqttListeners> {
  // [PROTO-5a] A connection that has not sent CONNECT soon is closed: the session's timer
  // starts once the transport hands the connection over, so the TLS handshake and the
  // WebSocket upgrade get the same time. Node's defaults let a socket that sends nothing hold
  // its connection slot: 120 s for a TLS handshake, for ever before an HTTP request.
  const handshakeMs = cfg.mqtt.connectTimeoutMs;
  let tlsOpts: tls.TlsOptions | undefined;
  if (cfg.tls) {
    try {
      tlsOpts = {
        cert: pem(cfg.tls.cert),
        key: pem(cfg.tls.key),
        ca: cfg.tls.ca ? pem(cfg.tls.ca) : undefined,
        handshakeTimeout: handshakeMs,
      };
    } catch (e) {
      throw new GatewayError("E_GW_LISTEN", `TLS material: ${errorText(e)}`);
    }
  }
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true); // replies are small: never let Nagle hold them back
    onConnection(socket, socket.remoteAddress ?? "unknown");
  };
  const tcp = tlsOpts ? tls.createServer(tlsOpts) : net.createServer();
  // Admission first, on the raw socket: a refused connection never reaches TLS or the broker.
  tcp.prependListener("connection", (socket: net.Socket) => {
    if (!admit(socket)) return;
    if (!tlsOpts) onSocket(socket);
  });
  if (tlsOpts) tcp.on("secureConnection", onSocket);
  // A failed or timed-out TLS handshake never reaches the broker. Node leaves the socket open
  // to this listener (a handshake timeout would not close it at all).
  tcp.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => socket.destroy());
  const mqttPort = await listen(tcp, cfg.mqtt.port, cfg.mqtt.host, "MQTT", cfg.mqtt.listenBacklog);

  let wsServer: http.Server | undefined;
  let wss: WebSocketServer | undefined;
  let wsPort: number | undefined;
  if (cfg.ws) {
    wsServer = tlsOpts ? https.createServer(tlsOpts) : http.createServer();
    // The upgrade must come within handshakeMs of the connection (of the TLS handshake over
    // TLS); the session's own timer takes over once it came. A deadline, not an idle timeout:
    // a request head sent a byte at a time does not extend it.
    const upgradeDeadlines = new WeakMap<net.Socket, NodeJS.Timeout>();
    const startDeadline = (socket: net.Socket) => {
      const t = setTimeout(() => socket.destroy(), handshakeMs);
      t.unref();
      upgradeDeadlines.set(socket, t);
      socket.once("close", () => clearTimeout(t));
    };
    wsServer.prependListener("connection", (socket: net.Socket) => {
      if (admit(socket) && !tlsOpts) startDeadline(socket);
    });
    if (tlsOpts) {
      wsServer.prependListener("secureConnection", startDeadline);
      wsServer.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => socket.destroy());
    }
    wsServer.on("request", (_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("MQTT over WebSocket only\n");
    });
    wss = new WebSocketServer({
      server: wsServer,
      path: cfg.ws.path,
      // Per-packet size is the frame guard's job; this only bounds one WebSocket message.
      maxPayload: Math.max(65_536, cfg.limits.maxPacketBytes * 4),
    });
    wss.on("connection", (ws, req) => {
      clearTimeout(upgradeDeadlines.get(req.socket));
      req.socket.setNoDelay(true);
      const stream = createWebSocketStream(ws);
      onConnection(stream, req.socket.remoteAddress ?? "unknown");
    });
    wss.on("error", () => {});
    try {
      wsPort = await listen(
        wsServer,
        cfg.ws.port,
        cfg.ws.host,
        "MQTT over WebSocket",
        cfg.mqtt.listenBacklog,
      );
    } catch (e) {
      await closeServer(tcp);
      throw e;
    }
  }

  return {
    mqttPort,
    wsPort,
    async close() {
      const waits: Promise<void>[] = [closeServer(tcp)];
      if (wss) {
        const w = wss;
        waits.push(new Promise((r) => w.close(() => r())));
      }
      if (wsServer) waits.push(closeServer(wsServer));
      await Promise.all(waits);
    },
  };
}
