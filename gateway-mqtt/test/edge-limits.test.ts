import net from "node:net";
import { Registrations } from "@devreg/kube";
import { setPairing } from "@devreg/operator";
import { encodeJsonEnrollRequest } from "@devreg/protocol";
import type mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import type { GatewayHandle } from "../src/index.ts";
import { mqttFrom } from "./abuse/attacker.ts";
import {
  TestDevice,
  closedByBroker,
  connectOutcome,
  metric,
  startTestGateway,
  useGatewaySuite,
  uuid4,
  verifiedReply,
  waitFor,
} from "./helpers.ts";
import { freshNamespace } from "../../kube/test-support/kube.ts";

// Issue 13: every edge resource is bounded, counted, and ends what it should end.
const t = useGatewaySuite("edge", { pairing: true });

const refusals = (g: GatewayHandle, kind: string) =>
  metric(g.adminPort, "devreg_gateway_refusals_total", { kind });
const open = (g: GatewayHandle, transport: "mqtt" | "http") =>
  metric(g.adminPort, "devreg_gateway_open_connections", { transport });
const closedSessions = (g: GatewayHandle, reason: string) =>
  metric(g.adminPort, "devreg_gateway_sessions_closed_total", { reason });
const readyz = async (g: GatewayHandle) => (await fetch(`http://127.0.0.1:${g.adminPort}/readyz`)).status;

/** A raw TCP socket from `localAddress` that never closes by itself (half-open allowed). */
function rawSocket(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", localAddress, allowHalfOpen: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
    t.perTest.add(() => s.destroy());
  });
}

/** Resolves when the peer ended or reset the socket. */
function peerGone(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.readableEnded || s.destroyed) return resolve();
    s.once("end", () => resolve());
    s.once("close", () => resolve());
    s.once("error", () => resolve());
    s.resume();
  });
}

async function connectCode(port: number, opts: mqtt.IClientOptions): Promise<number | "connected"> {
  const r = await connectOutcome(port, opts);
  return r.code ?? "connected";
}

describe("MQTT connection caps", () => {
  it("a per-address cap and a total cap close extra sockets at accept; /readyz is 503 near the cap", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { mqttConnections: { max: 4, perAddress: 2 }, notReadyAtCapFraction: 0.75 },
    });
    expect(await readyz(g)).toBe(200);
    const a1 = await rawSocket(g.mqttPort, "127.0.0.2");
    await rawSocket(g.mqttPort, "127.0.0.2");
    const a3 = await rawSocket(g.mqttPort, "127.0.0.2");
    await peerGone(a3);
    expect(await refusals(g, "address_connection_limit")).toBe(1);
    await rawSocket(g.mqttPort, "127.0.0.3");
    await waitFor(async () => (await readyz(g)) === 503, 2_000, "readyz 503 at 3 of 4");
    await rawSocket(g.mqttPort, "127.0.0.4");
    const over = await rawSocket(g.mqttPort, "127.0.0.5");
    await peerGone(over);
    expect(await refusals(g, "connection_limit")).toBe(1);
    expect(await open(g, "mqtt")).toBe(4);
    a1.destroy();
    await waitFor(async () => (await open(g, "mqtt")) === 3, 2_000, "slot released");
  });

  it("an IPv4 client is one address on a dual-stack (::) listener and on an IPv4 one", async () => {
    // The TCP listener on "::" sees 127.0.0.6 as ::ffff:127.0.0.6; the WebSocket listener on
    // 127.0.0.1 sees 127.0.0.6. Both count against the one MQTT cap, under one key.
    const g = await startTestGateway(t.env, t.perTest, {
      mqtt: { host: "::", port: 0, connectTimeoutMs: 10_000 },
      ws: { host: "127.0.0.1", port: 0 },
      limits: { mqttConnections: { max: 10, perAddress: 2 } },
    });
    const wsPort = g.wsPort as number;
    await rawSocket(g.mqttPort, "127.0.0.6");
    await rawSocket(wsPort, "127.0.0.6");
    const overDualStack = await rawSocket(g.mqttPort, "127.0.0.6");
    await peerGone(overDualStack);
    const overV4 = await rawSocket(wsPort, "127.0.0.6");
    await peerGone(overV4);
    expect(await refusals(g, "address_connection_limit")).toBe(2);
    expect(await open(g, "mqtt")).toBe(2);
    await rawSocket(g.mqttPort, "127.0.0.7"); // another address still gets in
    expect(await open(g, "mqtt")).toBe(3);
  });
});

describe("MQTT connect rate", () => {
  it("an exhausted global connect rate refuses busy addresses, not a quiet one", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: {
        connectGlobal: { ratePerSecond: 0.01, burst: 1 },
        connectPerAddress: { ratePerSecond: 0.01, burst: 10 },
        connectQuietPerAddress: { ratePerSecond: 0.01, burst: 1 },
      },
    });
    // Each CONNECT carries a valid proof [PROTO-39], so only the connect rate can refuse it.
    const connectFrom = (localAddress: string) => {
      const d = new TestDevice();
      return mqttFrom(g.mqttPort, localAddress, { clientId: d.deviceId, ...d.credentials() }).then(
        (c) => {
          c.end(true);
          return "connected";
        },
        (e: { code?: number }) => e.code,
      );
    };
    expect(await connectFrom("127.0.0.9")).toBe("connected"); // takes the one global token
    expect(await connectFrom("127.0.0.9")).toBe("connected"); // global empty: its one quiet connect
    expect(await connectFrom("127.0.0.9")).toBe(3); // now a busy address
    expect(await connectFrom("127.0.0.10")).toBe("connected"); // another, quiet address: admitted
  });
});

describe("MQTT sessions [PROTO-5a]", () => {
  it.each([
    ["0 (no keepalive)", 0],
    ["above the maximum", 301],
  ])("keepalive %s is refused with CONNACK 5", async (_what, keepalive) => {
    const g = t.gw;
    const before = await refusals(g, "keepalive");
    // With a valid proof [PROTO-39]: the keepalive alone is what is refused.
    const d = new TestDevice();
    expect(await connectCode(g.mqttPort, { clientId: d.deviceId, ...d.credentials(), keepalive })).toBe(5);
    expect(await refusals(g, "keepalive")).toBe(before + 1);
  });

  it("keepalive within 1..max connects", async () => {
    for (const keepalive of [1, 300]) {
      const d = new TestDevice();
      expect(await connectCode(t.gw.mqttPort, { clientId: d.deviceId, ...d.credentials(), keepalive })).toBe(
        "connected",
      );
    }
  });

  it("a connection that never sends CONNECT is closed after the pre-CONNECT timeout", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      mqtt: { host: "127.0.0.1", port: 0, connectTimeoutMs: 300 },
    });
    const s = await rawSocket(g.mqttPort);
    const t0 = Date.now();
    await peerGone(s);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await waitFor(async () => (await closedSessions(g, "connect_timeout")) === 1, 2_000, "counted");
    await waitFor(async () => (await open(g, "mqtt")) === 0, 2_000, "slot released");
  });

  it("protocol violations close the connection and are counted; an honest device enrolls meanwhile", async () => {
    const g = await startTestGateway(t.env, t.perTest);
    // A PINGREQ before CONNECT, and a packet of reserved type 0 that the parser refuses.
    const before = await rawSocket(g.mqttPort, "127.0.0.6");
    before.write(Buffer.from([0xc0, 0x00]));
    await peerGone(before);
    const reserved = await rawSocket(g.mqttPort, "127.0.0.7");
    reserved.write(Buffer.from([0x00, 0x00]));
    await peerGone(reserved);
    const honest = t.device();
    await honest.connect(g.mqttPort);
    expect((await honest.enroll(g.publicKey)).status).toBe("approved");
    await waitFor(async () => (await closedSessions(g, "protocol_error")) === 2, 2_000, "both counted");
  });

  it("a session is closed soon after its final reply, and an idle one after the idle timeout", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      mqtt: { host: "127.0.0.1", port: 0, closeAfterFinalReplyMs: 300, idleTimeoutMs: 1_000 },
    });
    // A final reply other than approved: an error for a frame that is no request.
    const done = t.device();
    await done.connect(g.mqttPort);
    const closed = closedByBroker(done.client!, 3_000);
    const reply = done.nextReply(5_000);
    await done.publishRaw(Buffer.from([0xa0]));
    expect(verifiedReply(await reply, g.publicKey, done.deviceId).status).toBe("error");
    await closed;
    expect(await closedSessions(g, "final_reply")).toBe(1);

    const idle = t.device();
    await idle.connect(g.mqttPort);
    const t0 = Date.now();
    await closedByBroker(idle.client!, 4_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(await closedSessions(g, "idle")).toBe(1);
  });

  it("an approved device keeps its session past both timeouts and hears its deactivation [PROTO-5a]", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      mqtt: { host: "127.0.0.1", port: 0, closeAfterFinalReplyMs: 300, idleTimeoutMs: 1_000 },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    expect((await d.enroll(g.publicKey)).status).toBe("approved");
    await new Promise((r) => setTimeout(r, 2_000));
    expect(d.client!.connected).toBe(true);
    expect(await closedSessions(g, "final_reply")).toBe(0);
    expect(await closedSessions(g, "idle")).toBe(0);
    const notice = d.nextReply(10_000);
    await t.env.rest.request(
      "PATCH",
      `/apis/devices.example.com/v1alpha1/namespaces/${t.env.ns}/deviceregistrations/dev-${d.deviceId}`,
      {
        body: { spec: { deactivate: true } },
        contentType: "application/merge-patch+json",
      },
    );
    // [PROTO-28] an unsolicited notice: "deactivated", or error/Deactivated where the codec needs a requestId.
    const n = verifiedReply(await notice, g.publicKey, d.deviceId);
    expect(n.status === "deactivated" || (n.status === "error" && n.reason === "Deactivated")).toBe(true);
  });

  it("enrolledIdleMs closes an approved device's session after that long without a request", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      mqtt: { host: "127.0.0.1", port: 0, enrolledIdleMs: 500 },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    const closed = closedByBroker(d.client!, 5_000);
    expect((await d.enroll(g.publicKey)).status).toBe("approved");
    await closed;
    expect(await closedSessions(g, "enrolled_idle")).toBe(1);
  });

  /** A gateway in a namespace no operator watches (pairing open): registrations stay undecided. */
  async function undecidedGateway(overrides: Parameters<typeof startTestGateway>[2]) {
    const quiet = await freshNamespace(t.env.rest, "gw-edge-quiet");
    await setPairing(t.env.rest, quiet, { enabled: true });
    const g = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.perTest, overrides);
    return { g, regs: new Registrations(t.env.rest, quiet) };
  }

  it("[PROTO-41] the session a late final reply is delivered to (not the one that left) is closed soon after it", async () => {
    const { g, regs } = await undecidedGateway({
      decisionTimeoutMs: 30_000,
      mqtt: { host: "127.0.0.1", port: 0, closeAfterFinalReplyMs: 300, idleTimeoutMs: 20_000 },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    const { frame, requestId } = d.request();
    await d.publishRaw(frame);
    await waitFor(() => regs.get(`dev-${d.deviceId}`).catch(() => undefined), 10_000, "registration created");
    // The requester leaves while its request is decided; the device comes back with a fresh proof.
    await d.close();
    await d.connect(g.mqttPort);
    const reply = d.nextReply(10_000);
    const closed = closedByBroker(d.client!, 5_000); // far below the 20 s idle timeout
    // A final answer other than approved (an approved device may keep its session).
    await regs.patchStatus(`dev-${d.deviceId}`, {
      phase: "Rejected",
      reason: "DeniedByAdmin",
      message: "denied",
      decidedBy: "admin:test",
    });
    expect(verifiedReply(await reply, g.publicKey, d.deviceId, requestId).status).toBe("rejected");
    await closed;
    expect(await closedSessions(g, "final_reply")).toBe(1);
  });

  it("a busy notice does not cut short a session that is deciding a request", async () => {
    const { g, regs } = await undecidedGateway({
      decisionTimeoutMs: 30_000,
      mqtt: { host: "127.0.0.1", port: 0, idleTimeoutMs: 1_000 },
      limits: { publishPerClient: { ratePerSecond: 0.01, burst: 1 } },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    const first = d.request();
    await d.publishRaw(first.frame);
    await waitFor(() => regs.get(`dev-${d.deviceId}`).catch(() => undefined), 10_000, "registration created");
    const busy = d.nextReply(5_000);
    await d.publishRaw(d.request().frame); // over the rate [PROTO-42]
    expect(verifiedReply(await busy, g.publicKey, d.deviceId).status).toBe("busy");
    await new Promise((r) => setTimeout(r, 2_000)); // twice the idle timeout
    expect(d.client?.connected).toBe(true);
    const decided = d.nextReply(10_000);
    await regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid4() });
    expect(verifiedReply(await decided, g.publicKey, d.deviceId, first.requestId).status).toBe("approved");
  });

  it("a client whose frames keep failing verification is disconnected [PROTO-24]", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: {
        invalidPerClient: { ratePerSecond: 0.01, burst: 2 },
        publishPerClient: { ratePerSecond: 100, burst: 100 },
      },
    });
    const d = t.device();
    await d.connect(g.mqttPort);
    const closed = closedByBroker(d.client!, 5_000);
    for (let i = 0; i < 3; i++) {
      const reply = d.nextReply(5_000);
      await d.publishRaw(Buffer.from([0xa0 + i])); // not a COSE_Sign1
      expect(verifiedReply(await reply, g.publicKey, d.deviceId).status).toBe("error");
    }
    await closed;
    expect(await refusals(g, "invalid_frames")).toBe(1);
    expect(await closedSessions(g, "invalid_frames")).toBe(1);
  });
});

describe("HTTP sockets end", () => {
  it("a slow request head that never completes is destroyed after the header timeout", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      http: { host: "127.0.0.1", port: 0, headersTimeoutMs: 300 },
    });
    const s = await rawSocket(g.httpPort!);
    s.write("POST /enroll HTTP/1.1\r\nhost: x\r\n");
    // The socket never reads and never closes: only a server-side destroy frees the slot.
    await waitFor(async () => (await open(g, "http")) === 0, 3_000, "socket destroyed");
    expect(await refusals(g, "http_timeout")).toBe(1);
  });

  it("a body that never completes is destroyed after the request timeout", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      http: { host: "127.0.0.1", port: 0, requestTimeoutMs: 500 },
    });
    const s = await rawSocket(g.httpPort!);
    s.write(
      "POST /enroll HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    );
    await waitFor(async () => (await open(g, "http")) === 0, 4_000, "socket destroyed");
  });

  it("the socket is destroyed after an error response, even if the client never closes it", async () => {
    const g = t.gw;
    const s = await rawSocket(g.httpPort!);
    await waitFor(async () => (await open(g, "http")) >= 1, 2_000, "counted");
    s.write("POST /enroll HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi");
    await peerGone(s);
    await waitFor(async () => (await open(g, "http")) === 0, 3_000, "socket destroyed");
  });

  it("per-address cap: the extra connection is closed at accept", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { httpConnections: { max: 10, perAddress: 1 } },
    });
    await rawSocket(g.httpPort!, "127.0.0.7");
    const extra = await rawSocket(g.httpPort!, "127.0.0.7");
    await peerGone(extra);
    expect(await refusals(g, "address_connection_limit")).toBe(1);
  });
});

describe("replay memory [PROTO-23a]", () => {
  it("one key's HTTP flood evicts only its own nonces: neither it nor any other device is told busy", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: {
        replayMaxEntries: 16,
        replayPerDevice: 4,
        publishPerClient: { ratePerSecond: 1_000, burst: 1_000 },
        httpPerAddress: { ratePerSecond: 1_000, burst: 1_000 },
      },
    });
    const post = async (d: TestDevice) => {
      const { frame } = d.request();
      const res = await fetch(`http://127.0.0.1:${g.httpPort}/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(encodeJsonEnrollRequest(frame)),
      });
      const body = (await res.json()) as { reply: string };
      return verifiedReply(Buffer.from(body.reply, "base64"), g.publicKey, d.deviceId);
    };
    const flooder = new TestDevice();
    // Every reply says "approved": a full replay memory would have answered "busy" (reason Busy).
    for (let i = 0; i < 40; i++) expect((await post(flooder)).status).toBe("approved");
    const others = Array.from({ length: 8 }, () => new TestDevice());
    for (const d of others) expect((await post(d)).status).toBe("approved");
    expect(await metric(g.adminPort, "devreg_gateway_replay_entries")).toBeLessThanOrEqual(16);
    expect(await metric(g.adminPort, "devreg_gateway_replay_device_evictions")).toBe(36);
  });

  it("over HTTP the per-device rate applies before the replay memory", async () => {
    const g = await startTestGateway(t.env, t.perTest, {
      limits: { publishPerClient: { ratePerSecond: 0.01, burst: 2 } },
    });
    const d = new TestDevice();
    const statuses: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${g.httpPort}/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(encodeJsonEnrollRequest(d.request().frame)),
      });
      statuses.push(String(res.status));
      await res.arrayBuffer();
    }
    expect(statuses).toEqual(["200", "200", "429", "429", "429", "429"]);
    expect(await metric(g.adminPort, "devreg_gateway_replay_entries")).toBe(2);
  });
});
