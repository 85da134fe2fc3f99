import { execFile } from "node:child_process";
import { connectProofText, encodeConnectProof, newNonce } from "@devreg/protocol";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import {
  TestDevice,
  closedByBroker,
  metric,
  startTestGateway,
  verifiedReply,
  useGatewaySuite,
} from "./helpers.ts";

// [PROTO-37] … [PROTO-41] with real MQTT clients (mqtt.js and Debian's mosquitto_pub -V 311):
// only the key holder opens, or takes over, a device's session; every refused CONNECT is
// counted by kind. All clients here come from 127.0.0.1, so the per-address connect limit
// is raised: this file tests the proof, not the rate limits.
const t = useGatewaySuite("proof", {
  pairing: true,
  gateways: [
    {
      limits: {
        connectPerAddress: { ratePerSecond: 10_000, burst: 10_000 },
        connectGlobal: { ratePerSecond: 10_000, burst: 10_000 },
      },
    },
  ],
});

const refusals = (kind: string) => metric(t.gw.adminPort, "devreg_gateway_refusals_total", { kind });

/** CONNACK return code of one CONNECT (0 = accepted; the connection is then closed). */
async function connack(opts: mqtt.IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.gw.mqttPort}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...opts,
    });
    await c.endAsync(true);
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "number" ? code : -1;
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (e, _out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, err: String(err) }),
    );
  });
}

describe("CONNECT without a valid proof (mqtt.js)", () => {
  it("[PROTO-40] is refused with CONNACK 4 or 5 by kind, counted, and never disturbs the owner's session", async () => {
    const owner = t.device();
    await owner.connect(t.gw.mqttPort);
    const ownerKicked = closedByBroker(owner.client!, 60_000).then(
      () => true,
      () => false,
    );
    const other = new TestDevice();
    const id = owner.deviceId;
    const now = Math.floor(Date.now() / 1000);
    const captured = owner.credentials(); // as if sniffed off the wire (no TLS)
    expect(await connack({ clientId: id, ...captured })).toBe(0); // its one use: a proven takeover
    const cases: Array<[string, mqtt.IClientOptions, number, string]> = [
      ["no username or password", {}, 4, "connect_no_proof"],
      ["username only", { username: id }, 4, "connect_no_proof"],
      ["a text password", { username: id, password: Buffer.from("hunter2x") }, 4, "connect_bad_proof"],
      ["another key's proof", { ...other.credentials(), username: id }, 4, "connect_wrong_key"],
      [
        "another key's proof naming this id",
        { username: id, password: forgedFor(other, id) },
        4,
        "connect_wrong_key",
      ],
      [
        "a forged signature",
        { username: id, password: flipLastByte(owner.credentials().password) },
        4,
        "connect_bad_signature",
      ],
      ["a replayed proof", captured, 5, "connect_replay"],
      ["a stale proof", owner.credentials({ timestamp: now - 3_600 }), 5, "connect_stale"],
      ["a proof from the future", owner.credentials({ timestamp: now + 3_600 }), 5, "connect_stale"],
    ];
    for (const [what, creds, code, kind] of cases) {
      const before = await refusals(kind);
      expect(await connack({ clientId: id, ...creds }), what).toBe(code);
      expect(await refusals(kind), what).toBe(before + 1);
    }
    // The owner's own session was taken over once, by its own proof (the "captured" one):
    // that is allowed [PROTO-41]. Reconnect the owner and check nothing refused touches it.
    await owner.connect(t.gw.mqttPort);
    const stillThere = closedByBroker(owner.client!, 1_500).then(
      () => false,
      () => true,
    );
    for (const [, creds] of cases) await connack({ clientId: id, ...creds });
    expect(await stillThere).toBe(true);
    expect(await ownerKicked).toBe(true); // the first session, by the proven takeover only
    expect(await owner.enroll(t.gw.publicKey)).toMatchObject({ status: "approved" });
  });
});

describe("CONNECT proofs in the replay memory [PROTO-23a]", () => {
  it("the device's own requests over its per-device bound never make its live proof replayable", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { replayPerDevice: 2, publishPerClient: { ratePerSecond: 100, burst: 100 } },
    });
    const owner = t.device();
    const captured = owner.credentials(); // as if sniffed off the wire (no TLS)
    await owner.connect(g.mqttPort, captured);
    const kicked = closedByBroker(owner.client!, 2_000).then(
      () => true,
      () => false,
    );
    // Four request nonces against a bound of 2: the device's own oldest request pairs go.
    for (let i = 0; i < 4; i++) expect((await owner.enroll(g.publicKey)).status).toBe("approved");
    const before = await metric(g.adminPort, "devreg_gateway_refusals_total", { kind: "connect_replay" });
    const replayed = await mqtt
      .connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, {
        clientId: owner.deviceId,
        ...captured,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      })
      .then(
        async (c) => {
          await c.endAsync(true);
          return 0;
        },
        (e: { code?: number }) => e.code,
      );
    expect(replayed).toBe(5);
    expect(await metric(g.adminPort, "devreg_gateway_refusals_total", { kind: "connect_replay" })).toBe(before + 1);
    expect(await kicked).toBe(false); // the owner's session was not taken over
  });
});

describe("mosquitto_pub -V 311", () => {
  it("[PROTO-40] without a proof, with a plain password or with another key's proof: CONNACK 4; with its own proof: accepted", async () => {
    const d = new TestDevice();
    const other = new TestDevice();
    const base = ["-V", "311", "-h", "127.0.0.1", "-p", String(t.gw.mqttPort), "-i", d.deviceId];
    const send = ["-t", d.requestTopic, "-m", "x", "-q", "1"];
    const before = await refusals("connect_no_proof");
    for (const creds of [
      [],
      ["-u", d.deviceId, "-P", "hunter2"],
      ["-u", d.deviceId, "-P", connectProofText(other.credentials().password)],
    ]) {
      const r = await run("mosquitto_pub", [...base, ...creds, ...send]);
      expect(r.code, creds.join(" ")).not.toBe(0);
      expect(r.err, creds.join(" ")).toMatch(/bad user name or password/i);
    }
    expect(await refusals("connect_no_proof")).toBe(before + 1);
    const ok = await run("mosquitto_pub", [
      ...base,
      "-u",
      d.deviceId,
      "-P",
      connectProofText(d.credentials().password),
      ...send,
    ]);
    expect(ok.code, ok.err).toBe(0);
  });
});

describe("a squatter hammering a device's id", () => {
  it("[PROTO-41] gets 0 sessions in 1,000 tries while the device connects at its first try, enrolls and receives its deactivation notice", async () => {
    const d = t.device();
    const squatKeys = [new TestDevice(), new TestDevice()];
    const tries = 1_000;
    let done = 0;
    let squats = 0;
    const refusedBefore = await connectRefusals();
    const takeoversBefore = await metric(t.gw.adminPort, "devreg_gateway_session_takeovers_total");
    // mqtt.js squatters without the key: no proof, a text password, proofs of their own keys.
    const squatter = async () => {
      while (done < tries) {
        const n = done++;
        const creds: mqtt.IClientOptions =
          n % 3 === 0
            ? {}
            : n % 3 === 1
              ? { username: d.deviceId, password: Buffer.from(`guess-${n}`) }
              : { ...squatKeys[n % 2]!.credentials(), username: d.deviceId };
        if ((await connack({ clientId: d.deviceId, ...creds, connectTimeout: 10_000 })) === 0) squats++;
      }
    };
    const hammer = Promise.all(Array.from({ length: 8 }, squatter));

    // Meanwhile the device: one CONNECT, which must succeed, then enroll and deactivation.
    await new Promise((r) => setTimeout(r, 200));
    let attempts = 0;
    attempts++;
    await d.connect(t.gw.mqttPort);
    const approved = await d.enroll(t.gw.publicKey, 30_000);
    expect(approved.status).toBe("approved");
    const pushed = d.nextReply(30_000);
    await t.env.regs.patch(`dev-${d.deviceId}`, { spec: { deactivate: true } });
    const notice = verifiedReply(await pushed, t.gw.publicKey, d.deviceId, "none");
    expect(notice.deviceUUID).toBe(approved.deviceUUID);
    expect(notice.reason).toBe("Deactivated");

    await hammer;
    expect(attempts).toBe(1);
    expect(squats).toBe(0);
    expect(done).toBeGreaterThanOrEqual(tries);
    expect((await connectRefusals()) - refusedBefore).toBeGreaterThanOrEqual(tries);
    expect(await metric(t.gw.adminPort, "devreg_gateway_session_takeovers_total")).toBe(takeoversBefore);
  }, 120_000);
});

const CONNECT_KINDS = ["connect_no_proof", "connect_bad_proof", "connect_wrong_key", "connect_bad_signature"];
async function connectRefusals(): Promise<number> {
  let sum = 0;
  for (const k of CONNECT_KINDS) sum += await refusals(k);
  return sum;
}

/** A proof signed by `signer`'s key that names another client id: refused at the key binding. */
function forgedFor(signer: TestDevice, clientId: string): Buffer {
  const proof = encodeConnectProof({
    keyPair: signer.keyPair,
    nonce: newNonce(),
    timestamp: Math.floor(Date.now() / 1000),
  });
  // Replace the clientId text (key 3) with the target id; the signature no longer matters,
  // the binding check (PROTO-39 step 6/7) comes first.
  const hex = Buffer.from(proof)
    .toString("hex")
    .replace(Buffer.from(signer.deviceId).toString("hex"), Buffer.from(clientId).toString("hex"));
  return Buffer.from(hex, "hex");
}

function flipLastByte(b: Buffer): Buffer {
  const out = Buffer.from(b);
  out[out.length - 1]! ^= 1;
  return out;
}
