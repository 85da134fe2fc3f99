/**
 * One attack from issue 13's table, run in its own process so the gateway's descriptors
 * and memory can be measured apart from the attacker's. Loopback only (127.0.0.0/8),
 * bounded in count and time: it stops itself after `durationMs` whatever happens.
 *
 *   node --import tsx attacker.ts '<AttackSpec as JSON>'   → one AttackResult JSON line on stdout
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { pathToFileURL } from "node:url";
import {
  type DeviceKeyPair,
  deviceIdFromPublicKey,
  encodeConnectProofWithNode,
  encodeEnrollRequest,
  encodeJsonEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  replyTopic,
  requestTopic,
  verifyEnrollReply,
} from "@devreg/protocol";
import { percentile } from "@devreg/runtime";
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";

export type AttackKind =
  | "half-open"
  | "slow-http"
  | "idle-mqtt"
  | "replay-flood"
  | "garbage"
  | "publish-rate"
  | "packet-flood";

export interface AttackSpec {
  kind: AttackKind;
  /** MQTT port, or the HTTP port for slow-http and replay-flood. */
  port: number;
  /** Sockets (or clients) to open. */
  count: number;
  /** Source addresses 127.0.1.1 … 127.0.1.<addresses>. */
  addresses: number;
  /** The attack stops itself after this long… */
  durationMs: number;
  /** …but socket attacks hold their sockets at least this long after the last one opened. */
  holdMs?: number;
  /** Gateway public key (base64), to verify replies where the attack reads them. */
  gatewayKey?: string;
}

export interface AttackResult {
  kind: AttackKind;
  opened: number;
  /** Failed to connect at all (refused by the kernel or reset at once). */
  connectFailed: number;
  /** Closed by the gateway, and how long after opening (ms). */
  closedByServer: number;
  closeMsP50: number;
  closeMsMax: number;
  /** Still open when the attack ended. */
  stillOpen: number;
  /** Per-kind details (CONNACK codes, reply statuses…). */
  detail: Record<string, number>;
}

const LOOPBACK_ONLY = /^127\./;

function sourceAddress(i: number, spec: AttackSpec): string {
  return `127.0.1.${(i % spec.addresses) + 1}`;
}

/** Median and max close time, by runtime's nearest rank (0 when nothing was closed). */
function closeTimes(closeMs: readonly number[]): Pick<AttackResult, "closeMsP50" | "closeMsMax"> {
  const sorted = Float64Array.from(closeMs).sort();
  return { closeMsP50: percentile(sorted, 50), closeMsMax: percentile(sorted, 100) };
}

/** Tracks raw sockets: who the server closed, when, and who is left. */
class SocketLedger {
  opened = 0;
  connectFailed = 0;
  readonly closeMs: number[] = [];
  readonly live = new Set<net.Socket>();
  readonly detail: Record<string, number> = {};

  count(key: string): void {
    this.detail[key] = (this.detail[key] ?? 0) + 1;
  }

  open(port: number, localAddress: string, onConnect: (s: net.Socket) => void): Promise<void> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      let connected = false;
      const s = net.connect({ port, host: "127.0.0.1", localAddress, allowHalfOpen: true });
      s.on("error", () => {});
      s.once("connect", () => {
        connected = true;
        this.opened++;
        this.live.add(s);
        onConnect(s);
        resolve();
      });
      const gone = () => {
        if (!connected) {
          this.connectFailed++;
          resolve();
          return;
        }
        if (!this.live.delete(s)) return;
        this.closeMs.push(Date.now() - t0);
      };
      s.once("end", gone);
      s.once("close", gone);
    });
  }

  result(kind: AttackKind): AttackResult {
    return {
      kind,
      opened: this.opened,
      connectFailed: this.connectFailed,
      closedByServer: this.closeMs.length,
      ...closeTimes(this.closeMs),
      stillOpen: this.live.size,
      detail: this.detail,
    };
  }

  destroyAll(): void {
    for (const s of this.live) s.destroy();
  }
}

/**
 * A device key of its own (node:crypto: thousands of them stay cheap) and its CONNECT
 * credentials [PROTO-37]: attackers that hold a real key get past the proof check, so what is
 * measured is the session limit under test, not the proof refusal.
 */
export function provenDevice(): {
  deviceId: string;
  keyPair: DeviceKeyPair;
  username: string;
  password: Buffer;
} {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  const publicKey = new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"));
  const secretKey = new Uint8Array(Buffer.concat([Buffer.from(jwk.d ?? "", "base64url"), publicKey]));
  const keyPair = { publicKey, secretKey };
  const deviceId = deviceIdFromPublicKey(publicKey);
  const proof = encodeConnectProofWithNode({
    keyPair,
    nonce: newNonce(),
    timestamp: Math.floor(Date.now() / 1000),
  });
  return { deviceId, keyPair, username: deviceId, password: Buffer.from(proof) };
}

/** A raw MQTT 3.1.1 CONNECT of a fresh proven device (see provenDevice). */
function provenConnect(keepalive: number): Buffer {
  const { deviceId, username, password } = provenDevice();
  return mqttPacket.generate({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    clientId: deviceId,
    username,
    password,
    keepalive,
  });
}

/** An MQTT.js client from a chosen loopback source address (its own options cannot set one). */
export function mqttFrom(
  port: number,
  localAddress: string,
  opts: mqtt.IClientOptions,
): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = new mqtt.MqttClient(() => net.connect({ port, host: "127.0.0.1", localAddress }), {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...opts,
    });
    c.once("connect", () => resolve(c));
    c.once("error", (e) => {
      c.end(true);
      reject(e);
    });
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
}

async function inBatches(n: number, batch: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => fn(i + j)));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opening thousands of sockets takes a while: hold until `until`, and at least `holdMs` after the last. */
const hold = (spec: AttackSpec, until: number) => sleep(Math.max(until - Date.now(), spec.holdMs ?? 0));

/** Raw sockets that never send a byte and never read. */
async function halfOpen(spec: AttackSpec, until: number): Promise<AttackResult> {
  const ledger = new SocketLedger();
  // Flowing (a paused socket would not see the gateway's FIN); the gateway sends nothing anyway.
  await inBatches(spec.count, 500, (i) => ledger.open(spec.port, sourceAddress(i, spec), (s) => s.resume()));
  await hold(spec, until);
  return ledger.result(spec.kind);
}

/** Half slow headers (a line a second, never finished), half slow bodies; never read. */
async function slowHttp(spec: AttackSpec, until: number): Promise<AttackResult> {
  const ledger = new SocketLedger();
  const drips: Array<() => void> = [];
  await inBatches(spec.count, 500, (i) =>
    ledger.open(spec.port, sourceAddress(i, spec), (s) => {
      s.pause();
      if (i % 2 === 0) {
        s.write("POST /enroll HTTP/1.1\r\nhost: gw\r\n");
        drips.push(() => s.writable && s.write(`x-drip-${i}: 1\r\n`));
      } else {
        s.write(
          "POST /enroll HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n{",
        );
        drips.push(() => s.writable && s.write(" "));
      }
    }),
  );
  const timer = setInterval(() => {
    for (const d of drips) d();
  }, 1_000);
  await hold(spec, until);
  clearInterval(timer);
  return ledger.result(spec.kind);
}

/** Proven CONNECTs that then say nothing: half with keepalive 0, half with keepalive 60 and no PINGREQ. */
async function idleMqtt(spec: AttackSpec, until: number): Promise<AttackResult> {
  const ledger = new SocketLedger();
  await inBatches(spec.count, 500, (i) =>
    ledger.open(spec.port, sourceAddress(i, spec), (s) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const keepalive = i % 2 === 0 ? 0 : 60;
      parser.on("packet", (p) => {
        if (p.cmd === "connack")
          ledger.count(`connack_${(p as { returnCode?: number }).returnCode ?? 0}_ka${keepalive}`);
      });
      s.on("data", (b) => parser.parse(b));
      // A valid proof [PROTO-39]: keepalive 60 sessions are accepted, and then closed when idle.
      s.write(provenConnect(keepalive));
    }),
  );
  await hold(spec, until);
  return ledger.result(spec.kind);
}

/** One key, fresh nonces, as fast as the gateway answers, from every source address. */
async function replayFlood(spec: AttackSpec, until: number): Promise<AttackResult> {
  const keyPair = generateDeviceKeyPair();
  const detail: Record<string, number> = {};
  const agents = Array.from(
    { length: spec.addresses },
    (_, i) => new http.Agent({ keepAlive: true, localAddress: sourceAddress(i, spec) }),
  );
  let sent = 0;
  const worker = async (w: number) => {
    while (Date.now() < until) {
      const frame = encodeEnrollRequest({
        keyPair,
        requestId: newRequestId(),
        nonce: newNonce(),
        timestamp: Math.floor(Date.now() / 1000),
        metadata: { model: "flood", firmwareVersion: "1", serialNumber: "flood" },
      });
      const body = JSON.stringify(encodeJsonEnrollRequest(frame));
      sent++;
      const key = await new Promise<string>((resolve) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port: spec.port,
            path: "/enroll",
            method: "POST",
            agent: agents[w % agents.length],
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              try {
                const j = JSON.parse(Buffer.concat(chunks).toString()) as {
                  reason?: string;
                  status?: string;
                };
                resolve(`${res.statusCode}_${j.status ?? "unsigned"}_${j.reason ?? ""}`);
              } catch {
                resolve(`${res.statusCode}_unparsable`);
              }
            });
            res.on("error", () => resolve("response_error"));
          },
        );
        req.on("error", () => resolve("request_error"));
        req.end(body);
      });
      detail[key] = (detail[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: spec.count }, (_, w) => worker(w)));
  for (const a of agents) a.destroy();
  return {
    kind: spec.kind,
    opened: sent,
    connectFailed: detail.request_error ?? 0,
    closedByServer: 0,
    closeMsP50: 0,
    closeMsMax: 0,
    stillOpen: 0,
    detail,
  };
}

/** Proven MQTT clients within their publish rate, every frame garbage; counts who gets disconnected. */
async function garbage(spec: AttackSpec, until: number): Promise<AttackResult> {
  const t0 = Date.now();
  const closeMs: number[] = [];
  const detail: Record<string, number> = {};
  let opened = 0;
  let failed = 0;
  const clients: mqtt.MqttClient[] = [];
  await inBatches(spec.count, 100, async (i) => {
    // Proven sessions [PROTO-39]: the garbage reaches the request path, where it is refused.
    const { deviceId, username, password } = provenDevice();
    try {
      const c = await mqttFrom(spec.port, sourceAddress(i, spec), {
        clientId: deviceId,
        username,
        password,
        keepalive: 60,
      });
      opened++;
      clients.push(c);
      c.on("error", () => {});
      c.once("close", () => closeMs.push(Date.now() - t0));
      const timer = setInterval(() => {
        if (!c.connected) return clearInterval(timer);
        c.publish(requestTopic(deviceId), randomBytes(64), { qos: 0 });
        detail.frames = (detail.frames ?? 0) + 1;
      }, 1_100);
      c.once("close", () => clearInterval(timer));
    } catch {
      failed++;
    }
  });
  await hold(spec, until);
  const stillOpen = clients.filter((c) => c.connected).length;
  for (const c of clients) c.end(true);
  return {
    kind: spec.kind,
    opened,
    connectFailed: failed,
    closedByServer: closeMs.length,
    ...closeTimes(closeMs),
    stillOpen,
    detail,
  };
}

/** One real device publishing valid requests at 20/s: it should hear "busy", not a silent close. */
async function publishRate(spec: AttackSpec, until: number): Promise<AttackResult> {
  const { deviceId, keyPair, username, password } = provenDevice();
  const gatewayKey = new Uint8Array(Buffer.from(spec.gatewayKey ?? "", "base64"));
  const detail: Record<string, number> = {};
  const c = await mqttFrom(spec.port, sourceAddress(0, spec), {
    clientId: deviceId,
    username,
    password,
    keepalive: 60,
  });
  c.on("error", () => {});
  let closedAt = 0;
  c.once("close", () => {
    closedAt = Date.now();
  });
  await c.subscribeAsync(replyTopic(deviceId), { qos: 1 });
  c.on("message", (_t, payload) => {
    const count = (key: string) => {
      detail[key] = (detail[key] ?? 0) + 1;
    };
    const v = verifyEnrollReply(new Uint8Array(payload), gatewayKey, { deviceId });
    if (!v.ok) return count("unverified");
    count(`reply_${v.value.status}`);
    if (v.value.status === "busy" && v.value.retryAfterSeconds !== undefined) count("busyWithRetryAfter");
  });
  let sent = 0;
  while (Date.now() < until - 1_000 && c.connected) {
    const frame = encodeEnrollRequest({
      keyPair,
      requestId: newRequestId(),
      nonce: newNonce(),
      timestamp: Math.floor(Date.now() / 1000),
      metadata: { model: "eager", firmwareVersion: "1", serialNumber: "eager" },
    });
    c.publish(requestTopic(deviceId), Buffer.from(frame), { qos: 1 });
    sent++;
    await sleep(50);
  }
  await sleep(Math.max(0, until - Date.now()));
  detail.sent = sent;
  const stillOpen = c.connected ? 1 : 0;
  c.end(true);
  return {
    kind: spec.kind,
    opened: 1,
    connectFailed: 0,
    closedByServer: closedAt ? 1 : 0,
    closeMsP50: 0,
    closeMsMax: 0,
    stillOpen,
    detail,
  };
}

/**
 * Proven MQTT clients that pipeline small packets: after CONNECT, 64 KiB of PINGREQs (32,768
 * packets) per write, every 100 ms, until the gateway closes them. Each packet would cost the
 * gateway a parse and an answer; counts the PINGRESPs that came back.
 */
async function packetFlood(spec: AttackSpec, until: number): Promise<AttackResult> {
  const ledger = new SocketLedger();
  const pings = Buffer.alloc(64 * 1024);
  for (let i = 0; i < pings.length; i += 2) pings[i] = 0xc0; // PINGREQ, remaining length 0
  await inBatches(spec.count, 50, (i) =>
    ledger.open(spec.port, sourceAddress(i, spec), (s) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let timer: NodeJS.Timeout | undefined;
      parser.on("packet", (p) => {
        if (p.cmd === "pingresp") ledger.count("pingresp");
        if (p.cmd !== "connack") return;
        ledger.count(`connack_${(p as { returnCode?: number }).returnCode ?? 0}`);
        const flood = () => {
          if (s.destroyed || Date.now() > until) return clearInterval(timer);
          s.write(pings);
          ledger.count("floodWrites");
        };
        flood();
        timer = setInterval(flood, 100);
      });
      s.on("data", (b) => parser.parse(b));
      s.once("close", () => clearInterval(timer));
      s.write(provenConnect(60));
    }),
  );
  await hold(spec, until);
  return ledger.result(spec.kind);
}

const ATTACKS: Record<AttackKind, (spec: AttackSpec, until: number) => Promise<AttackResult>> = {
  "half-open": halfOpen,
  "slow-http": slowHttp,
  "idle-mqtt": idleMqtt,
  "replay-flood": replayFlood,
  garbage,
  "publish-rate": publishRate,
  "packet-flood": packetFlood,
};

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as AttackSpec;
  if (!(spec.kind in ATTACKS)) throw new Error(`unknown attack ${spec.kind}`);
  if (!LOOPBACK_ONLY.test(sourceAddress(0, spec)) || spec.addresses > 254)
    throw new Error("loopback only, at most 254 source addresses");
  const until = Date.now() + spec.durationMs;
  // Self-stopping: whatever is still running is cut off shortly after the deadline.
  setTimeout(
    () => {
      process.stderr.write("attacker: hard stop\n");
      process.exit(3);
    },
    spec.durationMs + (spec.holdMs ?? 0) + 60_000,
  ).unref();
  const result = await ATTACKS[spec.kind](spec, until);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`attacker: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
