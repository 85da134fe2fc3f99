import http from "node:http";
import { Writable } from "node:stream";
import { type EnrollReply, encodeJsonEnrollRequest, replyTopic, requestTopic } from "@devreg/protocol";
import type mqtt from "mqtt";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { GatewayHandle, GatewayOptions } from "../src/index.ts";
import { mqttFrom, provenDevice } from "./abuse/attacker.ts";
import {
  TestDevice,
  connectOutcome,
  metric,
  startTestGateway,
  useGatewaySuite,
  verifiedReply,
} from "./helpers.ts";

// [PROTO-23b] Anyone can make keys, so a few addresses proving CONNECTs with fresh keys used
// to fill the replay memory (PROTO-23) and then every device got CONNACK 3 for up to the
// replay window. The per-address bound refuses only the flooding addresses. The second case
// runs the same flood with the bound as large as the memory (the hole, kept as documentation).
const t = useGatewaySuite("replay-addr", { pairing: true, gateways: [] });

const MAX_ENTRIES = 200;
const PER_ADDRESS = 50;
const ATTACKERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
/** CONNECT rates out of the way: this file tests the replay memory, not the rate limits. */
const GENEROUS = { ratePerSecond: 10_000, burst: 10_000 };

const refusals = (g: GatewayHandle, kind: string) =>
  metric(g.adminPort, "devreg_gateway_refusals_total", { kind });
const entries = (g: GatewayHandle) => metric(g.adminPort, "devreg_gateway_replay_entries");

/** The gateway's log lines, parsed (info level, so the per-kind gate is what bounds them). */
function capturedLog(): { lines: Array<Record<string, unknown>>; logger: pino.Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: "info" }, sink) };
}

async function gateway(replayPerAddress: number, logger?: pino.Logger): Promise<GatewayHandle> {
  const opts: Partial<GatewayOptions> = {
    limits: {
      replayMaxEntries: MAX_ENTRIES,
      replayPerAddress,
      connectPerAddress: GENEROUS,
      connectGlobal: GENEROUS,
      // Few log lines per kind, so the test sees the gate at work.
      logLinesPerKind: { ratePerSecond: 0.01, burst: 2 },
    },
  };
  if (logger) opts.logger = logger;
  return startTestGateway(t.env, t.perTest, opts);
}

/** CONNACK return code of one proven CONNECT with a fresh key from `from` (0: accepted, then closed). */
async function provenConnack(port: number, from: string): Promise<number> {
  const d = provenDevice();
  try {
    const c = await mqttFrom(port, from, {
      clientId: d.deviceId,
      username: d.username,
      password: d.password,
    });
    await c.endAsync(true);
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "number" ? code : -1;
  }
}

interface Tally {
  accepted: number;
  refused: number;
  other: number;
}

/**
 * One attacker address: proven CONNECTs with fresh keys, one after another, until it has
 * been refused (CONNACK 3) and `stop()` says so. Calls `onRefused` at its first refusal.
 */
async function flood(port: number, from: string, stop: () => boolean, onRefused: () => void): Promise<Tally> {
  const tally: Tally = { accepted: 0, refused: 0, other: 0 };
  // Bounded whatever happens: 4 x the memory per address.
  for (let i = 0; i < 4 * MAX_ENTRIES; i++) {
    const code = await provenConnack(port, from);
    if (code === 0) tally.accepted++;
    else if (code === 3) {
      if (tally.refused++ === 0) onRefused();
    } else tally.other++;
    if (tally.refused > 0 && stop()) break;
  }
  return tally;
}

/** Runs the three attackers; `during` runs once every one of them has been refused, while they go on. */
async function attack(port: number, during: () => Promise<void>): Promise<Tally[]> {
  let firstRefusals = 0;
  let done = false;
  let allRefused!: () => void;
  const refusedByAll = new Promise<void>((r) => {
    allRefused = r;
  });
  const floods = ATTACKERS.map((a) =>
    flood(
      port,
      a,
      () => done,
      () => {
        if (++firstRefusals === ATTACKERS.length) allRefused();
      },
    ),
  );
  const settled = Promise.all(floods);
  // If a flood ends without ever being refused, stop waiting (the assertions then fail).
  await Promise.race([refusedByAll, settled]);
  try {
    await during();
  } finally {
    done = true;
  }
  return settled;
}

/** A fresh device connects from 127.0.0.1 (not an attacker address) and enrolls over MQTT. */
async function honestEnroll(g: GatewayHandle): Promise<EnrollReply> {
  const d = t.device();
  await d.connect(g.mqttPort);
  return d.enroll(g.publicKey);
}

/** POST /enroll of a fresh key from `from`: the HTTP request path keys the same address. */
async function postFrom(g: GatewayHandle, from: string): Promise<EnrollReply> {
  const d = new TestDevice();
  const body = JSON.stringify(encodeJsonEnrollRequest(d.request().frame));
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: g.httpPort,
        localAddress: from,
        path: "/enroll",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString()));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  const reply = (JSON.parse(text) as { reply: string }).reply;
  return verifiedReply(Buffer.from(reply, "base64"), g.publicKey, d.deviceId);
}

/** A proven MQTT session from `from` (taking one pair of that address's share). */
async function sessionFrom(g: GatewayHandle, from: string): Promise<{ d: TestDevice; c: mqtt.MqttClient }> {
  const d = new TestDevice();
  const c = await mqttFrom(g.mqttPort, from, { clientId: d.deviceId, ...d.credentials(), keepalive: 60 });
  t.perTest.add(() => c.endAsync(true));
  await c.subscribeAsync(replyTopic(d.deviceId), { qos: 1 });
  return { d, c };
}

/** One enroll request over an existing session; the signed reply. */
async function enrollOver(g: GatewayHandle, s: { d: TestDevice; c: mqtt.MqttClient }): Promise<EnrollReply> {
  const { frame, requestId } = s.d.request();
  const got = new Promise<Buffer>((resolve) => s.c.once("message", (_topic, payload) => resolve(payload)));
  await s.c.publishAsync(requestTopic(s.d.deviceId), Buffer.from(frame), { qos: 1 });
  return verifiedReply(await got, g.publicKey, s.d.deviceId, requestId);
}

describe("replay memory per address [PROTO-23b]", () => {
  it("a fresh-key CONNECT flood from 3 addresses fills only their share; an honest device keeps enrolling", async () => {
    const { lines, logger } = capturedLog();
    const g = await gateway(PER_ADDRESS, logger);
    // A session opened on an attacker address before its share fills: its requests are
    // refused "busy" from then on too (the MQTT request path keys the session's address).
    const early = await sessionFrom(g, ATTACKERS[0]!);

    const honestDuring: EnrollReply[] = [];
    const tallies = await attack(g.mqttPort, async () => {
      honestDuring.push(await honestEnroll(g));
      honestDuring.push(await honestEnroll(g));
    });

    for (const [i, tally] of tallies.entries()) {
      expect(tally.refused, ATTACKERS[i]).toBeGreaterThan(0);
      expect(tally.other, ATTACKERS[i]).toBe(0);
    }
    // The early session holds one of 127.0.0.2's pairs.
    expect(tallies.map((x) => x.accepted)).toEqual([PER_ADDRESS - 1, PER_ADDRESS, PER_ADDRESS]);
    expect(honestDuring.map((r) => r.status)).toEqual(["approved", "approved"]);
    expect(await metric(g.adminPort, "devreg_gateway_replay_largest_address_entries")).toBe(PER_ADDRESS);
    // The attackers' 150 pairs, plus a CONNECT proof and a request from each honest device.
    expect(await entries(g)).toBe(ATTACKERS.length * PER_ADDRESS + 2 * honestDuring.length);

    // Every attacker refusal was counted under its own kind, none as the memory being full.
    const refused = tallies.reduce((n, x) => n + x.refused, 0);
    expect(await refusals(g, "connect_replay_address_full")).toBe(refused);
    expect(await refusals(g, "connect_replay_full")).toBe(0);

    // The request paths key the address too: a session and an HTTP POST from a full address
    // get a signed "busy", counted as replay_address_full; the same POST from elsewhere is approved.
    const addressFull = { status: "busy", reason: "Busy", message: expect.stringMatching(/address's share/) };
    expect(await enrollOver(g, early)).toMatchObject(addressFull);
    expect(await postFrom(g, ATTACKERS[1]!)).toMatchObject(addressFull);
    expect(await refusals(g, "replay_address_full")).toBe(2);
    expect((await postFrom(g, "127.0.0.5")).status).toBe("approved");

    // After the flood, the honest device still connects and enrolls.
    expect((await honestEnroll(g)).status).toBe("approved");

    // Logs tell the kinds apart, and go through the per-kind gate (burst 2): the rest are
    // counted as suppressed, none lost.
    await new Promise((r) => setImmediate(r));
    const logged = lines.filter((l) => l.refusal === "connect_replay_address_full");
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThanOrEqual(3);
    expect(String(logged[0]?.remote)).toMatch(/^127\.0\.0\.[234]$/);
    const suppressed = await metric(g.adminPort, "devreg_gateway_log_lines_suppressed_total", {
      kind: "refused:connect_replay_address_full",
    });
    expect(logged.length + suppressed).toBe(refused);
    expect(lines.some((l) => l.refusal === "replay_address_full")).toBe(true);
  });

  it("without the bound (replayPerAddress = replayMaxEntries) the same flood fills the memory and refuses everyone", async () => {
    const g = await gateway(MAX_ENTRIES);
    const honest = t.device();
    let honestCode: number | undefined;
    const tallies = await attack(g.mqttPort, async () => {
      honestCode = (await connectOutcome(g.mqttPort, { clientId: honest.deviceId, ...honest.credentials() }))
        .code;
    });
    expect(tallies.reduce((n, x) => n + x.accepted, 0)).toBe(MAX_ENTRIES);
    expect(await entries(g)).toBe(MAX_ENTRIES);
    expect(honestCode).toBe(3);
    expect(await refusals(g, "connect_replay_full")).toBe(tallies.reduce((n, x) => n + x.refused, 0) + 1);
    expect(await refusals(g, "connect_replay_address_full")).toBe(0);
    // The request path too: a full memory answers "busy" and counts it under its own kind.
    expect(await postFrom(g, "127.0.0.5")).toMatchObject({
      status: "busy",
      message: expect.stringMatching(/replay memory full/),
    });
    expect(await refusals(g, "replay_full")).toBe(1);
    expect(await refusals(g, "replay_address_full")).toBe(0);
  });
});
