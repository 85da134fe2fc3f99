import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type KubeRest, Registrations } from "@devreg/kube";
import {
  type DeviceKeyPair,
  type EnrollReply,
  deviceIdFromPublicKey,
  encodeConnectProof,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  replyTopic,
  requestTopic,
  verifyEnrollReply,
} from "@devreg/protocol";
import { type OperatorHandle, setPairing, startOperator } from "@devreg/operator";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";
import { type GatewayHandle, type GatewayOptions, startGateway } from "../src/index.ts";

export interface TestEnv {
  kubeconfig: string;
  rest: KubeRest;
  ns: string;
  regs: Registrations;
}

/** The shared control plane and a fresh namespace for this test file. */
export async function testEnv(prefix: string): Promise<TestEnv> {
  const { kubeconfig, rest } = await testKube();
  const ns = await freshNamespace(rest, prefix);
  return { kubeconfig, rest, ns, regs: new Registrations(rest, ns) };
}

/** Stops everything registered, last first; call from afterEach/afterAll. */
export class Cleanup {
  private readonly fns: Array<() => unknown> = [];
  add(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  }
}

export const TEST_LOG_LEVEL = (process.env.DEVREG_TEST_LOG ?? "silent") as GatewayOptions["logLevel"];

/** The real operator for this file's namespace, leading before it returns; stopped by `cleanup`. */
export async function startTestOperator(
  env: TestEnv,
  cleanup: Cleanup,
  identity: string,
): Promise<OperatorHandle> {
  const op = await startOperator({
    kubeconfig: env.kubeconfig,
    namespace: env.ns,
    httpPort: 0,
    identity,
    logLevel: TEST_LOG_LEVEL,
  });
  cleanup.add(() => op.stop());
  await op.waitForLeadership(20_000);
  return op;
}

/** A gateway on ephemeral loopback ports. */
export async function startTestGateway(
  env: { kubeconfig: string; ns: string },
  cleanup: Cleanup,
  overrides: Partial<GatewayOptions> = {},
): Promise<GatewayHandle> {
  const gw = await startGateway({
    kubeconfig: env.kubeconfig,
    namespace: env.ns,
    gatewayId: `gw-${randomBytes(3).toString("hex")}`,
    mqtt: { host: "127.0.0.1", port: 0 },
    http: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    logLevel: TEST_LOG_LEVEL,
    ...overrides,
  });
  cleanup.add(() => gw.stop());
  return gw;
}

export interface GatewaySuite {
  env: TestEnv;
  /** The first (usually only) gateway. */
  gw: GatewayHandle;
  gateways: GatewayHandle[];
  /** Stopped after the file. */
  suite: Cleanup;
  /** Run after each test. */
  perTest: Cleanup;
  /** A device closed after the current test. */
  device(): TestDevice;
}

/**
 * The set-up most gateway e2e files share, as vitest hooks: a fresh namespace, the real
 * operator (leading), pairing opened if asked, then one gateway per entry of `gateways`
 * (default one, with defaults). Call at the top level of a test file; the fields are set
 * once beforeAll has run.
 */
export function useGatewaySuite(
  name: string,
  opts: { pairing?: boolean; gateways?: Array<Partial<GatewayOptions>> } = {},
): GatewaySuite {
  const suite = new Cleanup();
  const perTest = new Cleanup();
  const s = {
    suite,
    perTest,
    gateways: [] as GatewayHandle[],
    device(): TestDevice {
      const d = new TestDevice();
      perTest.add(() => d.close());
      return d;
    },
  } as GatewaySuite;
  beforeAll(async () => {
    s.env = await testEnv(`gw-${name}`);
    await startTestOperator(s.env, suite, `op-${name}`);
    if (opts.pairing) await setPairing(s.env.rest, s.env.ns, { enabled: true });
    for (const o of opts.gateways ?? [{}]) s.gateways.push(await startTestGateway(s.env, suite, o));
    s.gw = s.gateways[0] as GatewayHandle;
  });
  afterEach(() => perTest.run());
  afterAll(async () => {
    await suite.run();
    s.env?.rest.close();
  });
  return s;
}

/** A virtual device: its key, its id, and an MQTT client bound to it. */
export class TestDevice {
  readonly keyPair: DeviceKeyPair;
  readonly deviceId: string;
  client: MqttClient | undefined;
  private readonly replies: Buffer[] = [];
  private replyWaiters: Array<(b: Buffer) => void> = [];

  constructor(seed?: Uint8Array) {
    this.keyPair = generateDeviceKeyPair(seed);
    this.deviceId = deviceIdFromPublicKey(this.keyPair.publicKey);
  }

  get requestTopic(): string {
    return requestTopic(this.deviceId);
  }

  get replyTopic(): string {
    return replyTopic(this.deviceId);
  }

  /** [PROTO-37] CONNECT credentials: username = device id, password = a fresh connect proof. */
  credentials(over: { timestamp?: number; nonce?: Uint8Array; keyPair?: DeviceKeyPair } = {}): {
    username: string;
    password: Buffer;
  } {
    const password = encodeConnectProof({
      keyPair: over.keyPair ?? this.keyPair,
      nonce: over.nonce ?? newNonce(),
      timestamp: over.timestamp ?? Math.floor(Date.now() / 1000),
    });
    return { username: this.deviceId, password: Buffer.from(password) };
  }

  /**
   * Connects (client id = device id unless overridden) with a fresh connect proof, and
   * subscribes to its reply topic.
   */
  async connect(
    port: number,
    opts: IClientOptions & { subscribe?: boolean; url?: string } = {},
  ): Promise<MqttClient> {
    const { subscribe = true, url = `mqtt://127.0.0.1:${port}`, ...rest } = opts;
    const client = await mqtt.connectAsync(url, {
      clientId: this.deviceId,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      clean: true,
      ...this.credentials(),
      ...rest,
    });
    this.client = client;
    client.on("error", () => {});
    client.on("message", (topic, payload) => {
      if (topic !== this.replyTopic) return;
      const w = this.replyWaiters.shift();
      if (w) w(payload);
      else this.replies.push(payload);
    });
    if (subscribe && (await subscribeResult(client, this.replyTopic)) === 128)
      throw new Error("own reply topic refused");
    return client;
  }

  /** A signed enroll request frame with fresh requestId and nonce. */
  request(over: { timestamp?: number; requestId?: string; keyPair?: DeviceKeyPair } = {}): {
    frame: Uint8Array;
    requestId: string;
  } {
    const requestId = over.requestId ?? newRequestId();
    const frame = encodeEnrollRequest({
      keyPair: over.keyPair ?? this.keyPair,
      requestId,
      nonce: newNonce(),
      timestamp: over.timestamp ?? Math.floor(Date.now() / 1000),
      metadata: {
        model: "test-mcu",
        firmwareVersion: "1.0.0",
        serialNumber: `SN-${this.deviceId.slice(0, 8)}`,
      },
    });
    return { frame, requestId };
  }

  /** The next frame on the reply topic. */
  nextReply(timeoutMs = 15_000): Promise<Buffer> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.replyWaiters = this.replyWaiters.filter((w) => w !== waiter);
        reject(new Error(`no reply on ${this.replyTopic} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (b: Buffer) => {
        clearTimeout(t);
        resolve(b);
      };
      this.replyWaiters.push(waiter);
    });
  }

  /** Publishes a raw payload on its request topic. */
  async publishRaw(payload: Uint8Array | Buffer, topic = this.requestTopic): Promise<void> {
    await this.client!.publishAsync(topic, Buffer.from(payload), { qos: 1 });
  }

  /** One enroll round trip; the reply is verified against the gateway's key. */
  async enroll(gatewayKey: Uint8Array, timeoutMs = 15_000): Promise<EnrollReply> {
    const { frame, requestId } = this.request();
    const got = this.nextReply(timeoutMs);
    await this.publishRaw(frame);
    return verifiedReply(await got, gatewayKey, this.deviceId, requestId);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync(true).catch(() => {});
  }
}

export function verifiedReply(
  frame: Uint8Array,
  gatewayKey: Uint8Array,
  deviceId: string,
  requestId?: string,
): EnrollReply {
  const v = verifyEnrollReply(new Uint8Array(frame), gatewayKey, { deviceId, requestId });
  if (!v.ok) throw new Error(`reply does not verify: ${v.error.code} ${v.error.message}`);
  return v.value;
}

/** Connects and disconnects at once: "connected", or the broker's refusal (CONNACK `code`). */
export async function connectOutcome(
  port: number,
  opts: IClientOptions,
): Promise<{ code?: number; message: string }> {
  try {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...opts,
    });
    await c.endAsync(true);
    return { message: "connected" };
  } catch (e) {
    return e as { code?: number; message: string };
  }
}

/** Resolves when the client is closed by the broker (or rejects after timeoutMs). */
export async function closedByBroker(client: MqttClient, timeoutMs = 5_000): Promise<void> {
  if (!client.connected) return;
  await Promise.race([
    new Promise<void>((resolve) => client.once("close", () => resolve())),
    new Promise((_, reject) => setTimeout(() => reject(new Error("client was not disconnected")), timeoutMs)),
  ]);
}

export function uuid4(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * kube-apiserver's own apiserver_request_total, summed over the series that carry every pair of
 * `labels` (e.g. verb POST, resource deviceregistrations, code 409); scraped with the admin kubeconfig.
 */
export function apiserverRequests(kubeconfig: string, labels: Record<string, string>): number {
  return apiserverMetric(kubeconfig, "apiserver_request_total", labels);
}

/** kube-apiserver's counter `name` summed over the series that carry every pair of `labels`. */
export function apiserverMetric(kubeconfig: string, name: string, labels: Record<string, string>): number {
  const text = execFileSync("kubectl", ["--kubeconfig", kubeconfig, "get", "--raw", "/metrics"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && wanted.every((w) => line.includes(w)))
      n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

/** Scrapes /metrics and returns one sample's value (0 when absent). */
export async function metric(
  adminPort: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let total = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
      found = true;
    }
  }
  return found ? total : 0;
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Granted QoS for a subscription, 128 when the broker refused it (mqtt.js rejects on SUBACK 0x80). */
export async function subscribeResult(client: MqttClient, filter: string): Promise<number> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos ?? -1;
  } catch (e) {
    if ((e as Error).name === "ErrorWithSubackPacket" || /Subscribe error/.test((e as Error).message))
      return 128;
    throw e;
  }
}
