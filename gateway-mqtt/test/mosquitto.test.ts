import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registrations } from "@devreg/kube";
import { freshNamespace } from "../../kube/test-support/kube.ts";
import { setPairing } from "@devreg/operator";
import { connectProofText } from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import {
  TestDevice,
  metric,
  startTestGateway,
  uuid4,
  verifiedReply,
  waitFor,
  useGatewaySuite,
} from "./helpers.ts";

// A third-party client (Debian's mosquitto-clients) against the gateway: the ACL holds,
// and a request built here and sent by mosquitto is answered with a verifiable reply.
const t = useGatewaySuite("mosq", { pairing: true });
const dir = mkdtempSync(join(tmpdir(), "devreg-mosq-"));

function run(cmd: string, args: string[]): Promise<{ code: number; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "buffer", timeout: 20_000 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err: err.toString() }),
    );
  });
}

function requestFile(d: TestDevice): { path: string; requestId: string } {
  const { frame, requestId } = d.request();
  const path = join(dir, `${d.deviceId}-${requestId}.cbor`);
  writeFileSync(path, frame);
  return { path, requestId };
}

const conn = (port: number) => ["-h", "127.0.0.1", "-p", String(port)];
/** [PROTO-37] -u <deviceId> -P <fresh connect proof as base64url text>: mosquitto takes the password as a string. */
const proofArgs = (d: TestDevice) => ["-u", d.deviceId, "-P", connectProofText(d.credentials().password)];

describe("mosquitto-clients", () => {
  it("mosquitto_sub: a subscription to another device's reply topic, or a wildcard, is denied", async () => {
    const me = new TestDevice();
    const other = new TestDevice();
    for (const topic of [other.replyTopic, "#", "$SYS/#", "devreg/v1/+/reply"]) {
      const r = await run("mosquitto_sub", [
        "-V",
        "mqttv311",
        ...conn(t.gw.mqttPort),
        "-i",
        me.deviceId,
        ...proofArgs(me),
        "-t",
        topic,
        "-C",
        "1",
        "-W",
        "2",
      ]);
      expect(r.err, topic).toContain("All subscription requests were denied");
      expect(r.out.length, topic).toBe(0);
    }
  });

  it("mosquitto_pub: another device's request topic loses the connection; a non-device client id is refused", async () => {
    const me = new TestDevice();
    const other = new TestDevice();
    const { path } = requestFile(other);
    const foreign = await run("mosquitto_pub", [
      "-V",
      "mqttv311",
      ...conn(t.gw.mqttPort),
      "-i",
      me.deviceId,
      ...proofArgs(me),
      "-t",
      other.requestTopic,
      "-f",
      path,
      "-q",
      "1",
    ]);
    expect(foreign.code).not.toBe(0);
    expect(foreign.err).toMatch(/connection was lost/i);
    const badId = await run("mosquitto_pub", [
      "-V",
      "mqttv311",
      ...conn(t.gw.mqttPort),
      "-i",
      "thermostat-1",
      "-t",
      me.requestTopic,
      "-f",
      path,
      "-q",
      "1",
    ]);
    expect(badId.code).not.toBe(0);
    expect(badId.err).toMatch(/identifier rejected/i);
    await expect(t.env.regs.get(`dev-${other.deviceId}`)).rejects.toMatchObject({ code: "E_KUBE_NOT_FOUND" });
  });

  it("[PROTO-41] mosquitto_pub -f (binary request, -i/-u <deviceId>, -P proof) is answered to the session mosquitto_sub opens next with its own proof", async () => {
    // Both tools use the device id as client id. mosquitto_pub sends the request and leaves;
    // the request waits for the decision, and the reply goes to the device's session that
    // is bound to its key when it is ready: mosquitto_sub's, opened with a fresh proof.
    // No operator here, so the registration stays undecided; pairing open, or the new key is
    // refused PairingDisabled without a write (issue 14) and nothing waits for a decision.
    const quiet = await freshNamespace(t.env.rest, "gw-mosq-quiet");
    await setPairing(t.env.rest, quiet, { enabled: true });
    const g = await startTestGateway({ kubeconfig: t.env.kubeconfig, ns: quiet }, t.suite, {
      decisionTimeoutMs: 30_000,
    });
    const regs = new Registrations(t.env.rest, quiet);
    const d = new TestDevice();
    const { path, requestId } = requestFile(d);
    const clients = () => metric(g.adminPort, "devreg_gateway_connected_clients");

    const pub = await run("mosquitto_pub", [
      "-V",
      "mqttv311",
      ...conn(g.mqttPort),
      "-i",
      d.deviceId,
      ...proofArgs(d),
      "-t",
      d.requestTopic,
      "-f",
      path,
      "-q",
      "1",
    ]);
    expect(pub.code, pub.err).toBe(0);
    await waitFor(() => regs.get(`dev-${d.deviceId}`).catch(() => undefined), 10_000, "registration created");

    const sub = spawn("mosquitto_sub", [
      "-V",
      "mqttv311",
      ...conn(g.mqttPort),
      "-i",
      d.deviceId,
      ...proofArgs(d),
      "-t",
      d.replyTopic,
      "-q",
      "1",
      "-C",
      "1",
      "-N",
      "-W",
      "60",
    ]);
    t.suite.add(() => sub.kill());
    const out: Buffer[] = [];
    sub.stdout.on("data", (c: Buffer) => out.push(c));
    const exited = new Promise<number | null>((r) => sub.on("exit", r));
    await waitFor(
      async () => ((await clients()) === 1 ? true : undefined),
      10_000,
      "mosquitto_sub connected",
    );
    await new Promise((r) => setTimeout(r, 300)); // its SUBSCRIBE follows the CONNECT
    const uuid = uuid4();
    await regs.patchStatus(`dev-${d.deviceId}`, { phase: "Approved", deviceUUID: uuid });

    expect(await exited).toBe(0);
    const reply = verifiedReply(Buffer.concat(out), g.publicKey, d.deviceId, requestId);
    expect(reply).toMatchObject({ status: "approved", requestId, deviceUUID: uuid });
    expect(await metric(g.adminPort, "devreg_gateway_session_takeovers_total")).toBe(0);
  });

  it("mosquitto_rr -V 311: its request (empty: 2.0.11 drops -f payloads) gets a signed Malformed error reply", async () => {
    const d = new TestDevice();
    const { path } = requestFile(d);
    const r = await run("mosquitto_rr", [
      "-V",
      "311",
      ...conn(t.gw.mqttPort),
      "-i",
      d.deviceId,
      ...proofArgs(d),
      "-q",
      "1",
      "-W",
      "15",
      "-N",
      "-t",
      d.requestTopic,
      "-e",
      d.replyTopic,
      "-f",
      path,
    ]);
    expect(r.code, r.err).toBe(0);
    const reply = verifiedReply(r.out, t.gw.publicKey, d.deviceId);
    expect(reply).toMatchObject({ status: "error", reason: "Malformed", requestId: "" });
  });

  it("over TLS (cert+key given): an MQTTS device is answered; plain TCP to the TLS port gets nowhere", async () => {
    const key = join(dir, "tls.key");
    const cert = join(dir, "tls.crt");
    const gen = await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]);
    expect(gen.code, gen.err).toBe(0);
    const tlsGw = await startTestGateway(t.env, t.suite, { tls: { cert, key } });
    const d = new TestDevice();
    t.suite.add(() => d.close());
    await d.connect(0, { url: `mqtts://localhost:${tlsGw.mqttPort}`, ca: readFileSync(cert) });
    expect(await d.enroll(tlsGw.publicKey)).toMatchObject({ status: "approved" });
    // mosquitto over TLS sees the same ACL.
    const denied = await run("mosquitto_sub", [
      "-V",
      "mqttv311",
      "-h",
      "localhost",
      "-p",
      String(tlsGw.mqttPort),
      "--cafile",
      cert,
      "-i",
      d.deviceId,
      ...proofArgs(d),
      "-t",
      "#",
      "-C",
      "1",
      "-W",
      "2",
    ]);
    expect(denied.err).toContain("All subscription requests were denied");
    const plain = await run("mosquitto_sub", [
      "-V",
      "mqttv311",
      ...conn(tlsGw.mqttPort),
      "-i",
      new TestDevice().deviceId,
      "-t",
      "x",
      "-C",
      "1",
      "-W",
      "2",
    ]);
    expect(plain.code).not.toBe(0);
  });
});
