import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type KubeRest, Registrations } from "@devreg/kube";
import { sleep } from "@devreg/runtime";

/**
 * The ORIGINAL design's gateway (the thesis this project grew from, §3.2 and §4): HTTP
 * POST /enroll with a JSON public key; the gateway creates a DeviceRegistration with a
 * random name, then polls its status with GET "at regular intervals" until the operator
 * has decided, and answers 200 {deviceUUID} or 403. The thesis states no interval; 1 s is
 * the default here (a typical `time.Sleep(time.Second)` loop) and is configurable.
 * Bench-local on purpose: it exists only to be measured against devreg.
 */
export interface PollingGatewayOptions {
  rest: KubeRest;
  namespace: string;
  pollIntervalMs?: number;
  /** Give up on one request after this long (504). */
  decisionTimeoutMs?: number;
}

export interface PollingGateway {
  port: number;
  /** GETs made so far: the load the polling design puts on the apiserver. */
  readonly polls: number;
  stop(): Promise<void>;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;

/** Request body of the original design: the device's public key, base64. */
interface OriginalEnrollRequest {
  publicKey: string;
}

export async function startPollingGateway(opts: PollingGatewayOptions): Promise<PollingGateway> {
  const regs = new Registrations(opts.rest, opts.namespace);
  const interval = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const timeoutMs = opts.decisionTimeoutMs ?? 30_000;
  let polls = 0;
  let stopping = false;

  const enroll = async (publicKey: string): Promise<{ status: number; body: unknown }> => {
    // "The resource name is generated randomly" (thesis §4, step 3).
    const name = `reg-${randomBytes(6).toString("hex")}`;
    await regs.create({ metadata: { name, namespace: opts.namespace }, spec: { publicKey } });
    const deadline = Date.now() + timeoutMs;
    while (!stopping && Date.now() < deadline) {
      await sleep(interval); // the baseline design: poll at a fixed interval
      polls++;
      const st = (await regs.get(name)).status;
      if (st?.phase === "Approved")
        return { status: 200, body: { status: "approved", deviceUUID: st.deviceUUID } };
      if (st?.phase === "Rejected") return { status: 403, body: { status: "rejected", message: st.message } };
    }
    return { status: 504, body: { status: "error", message: "no decision in time" } };
  };

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (req.method !== "POST" || req.url !== "/enroll") return reply(404, { message: "not found" });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let publicKey: unknown;
      try {
        publicKey = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<OriginalEnrollRequest>)
          .publicKey;
      } catch {
        return reply(400, { message: "body is not JSON" });
      }
      if (typeof publicKey !== "string") return reply(400, { message: "publicKey is required" });
      enroll(publicKey).then(
        (r) => reply(r.status, r.body),
        (err: Error) => reply(502, { message: err.message }),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get polls() {
      return polls;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
