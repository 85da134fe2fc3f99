import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MqttLink } from "./mqtt-link.ts";

// mqtts:// with a self-signed gateway certificate: the device verifies it against the CA it
// was given (tlsCa), from its own source address, and refuses it without.
describe("MqttLink over TLS", () => {
  let server: tls.Server;
  let port = 0;
  let caPem = "";
  const peers: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "mqtt-link-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        .concat(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]),
      { stdio: "ignore" },
    );
    caPem = readFileSync(cert, "utf8");
    // A minimal MQTT 3.1.1 peer: CONNACK to CONNECT, SUBACK (QoS 1) to SUBSCRIBE.
    server = tls.createServer({ cert: caPem, key: readFileSync(key) }, (socket) => {
      peers.push(socket.remoteAddress ?? "");
      socket.on("error", () => {});
      socket.on("data", (chunk) => {
        if (chunk[0] === 0x10) socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
        const sub = chunk.indexOf(0x82);
        if (sub >= 0 && chunk.length >= sub + 4) {
          socket.write(Buffer.from([0x90, 0x03, chunk[sub + 2]!, chunk[sub + 3]!, 0x01]));
        }
      });
    });
    server.on("tlsClientError", () => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const open = (tlsCa: string | undefined, localAddress: string | undefined) =>
    new Promise<{ ok: boolean; error?: string; link: MqttLink }>((resolve) => {
      const link: MqttLink = new MqttLink(
        {
          url: `mqtts://127.0.0.1:${port}`,
          clientId: "d1",
          password: new Uint8Array(8),
          replyTopic: "devices/d1/enroll/reply",
          keepaliveSeconds: 30,
          connectTimeoutMs: 5_000,
          localAddress,
          tlsCa,
        },
        {
          ready: () => resolve({ ok: true, link }),
          failed: (error) => resolve({ ok: false, error, link }),
          closed: () => {},
          message: () => {},
        },
      );
    });

  it("trusts the gateway's self-signed certificate given as tlsCa, from its own source address", async () => {
    const r = await open(caPem, "127.0.0.9");
    await r.link.close();
    expect(r).toMatchObject({ ok: true });
    expect(peers).toContain("127.0.0.9");
  });

  it("refuses that certificate without tlsCa (it verifies, as firmware must)", async () => {
    const r = await open(undefined, undefined);
    await r.link.close();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/SELF_SIGNED|CERT/);
  });
});
