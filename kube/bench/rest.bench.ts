/**
 * Client CPU per Kubernetes request (not a test): `npm run bench -w kube`.
 *
 *   BENCH_REQUESTS=20000 BENCH_CONCURRENCY=32 BENCH_ROUNDS=3 npm run bench -w kube
 *
 * A local TLS server in a child process (so its CPU is not ours) answers every POST with a
 * ~500-byte JSON object, as the apiserver answers a create. The client POSTs a ~200-byte JSON
 * body, `concurrency` requests at a time, through:
 *   node:https  the transport before undici: one keep-alive https.Agent, the same headers,
 *               timeout, body and JSON parse as KubeRest.request() had (kept here as baseline);
 *   KubeRest    KubeRest.request() as shipped (undici Pool).
 * Rounds alternate the two after a warm-up; reported: µs of this process's CPU per request
 * (user+system, process.cpuUsage) and requests/s. The server shares the machine's cores.
 */
import { spawn } from "node:child_process";
import https from "node:https";
import { loadavg } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeRest } from "../src/rest.ts";
import { selfSigned } from "../test-support/self-signed.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATH = "/apis/devreg.io/v1/namespaces/devices/deviceregistrations";
const QUERY = { fieldManager: "devreg-gateway" };
const BODY = {
  apiVersion: "devreg.io/v1",
  kind: "DeviceRegistration",
  metadata: { name: "dev-0123456789abcdef0123456789abcdef" },
  spec: { publicKey: "z".repeat(44), deviceId: "q".repeat(32), model: "acme-thermo-2" },
};

// The server: answers each request once its body is in, with a created object.
const SERVER = `
import https from "node:https";
const answer = Buffer.from(JSON.stringify({
  apiVersion: "devreg.io/v1", kind: "DeviceRegistration",
  metadata: { name: "dev-0123456789abcdef0123456789abcdef", namespace: "devices", uid: "6f1c2a8e-4b7d-4e2a-9c3f-0a1b2c3d4e5f",
    resourceVersion: "123456", generation: 1, creationTimestamp: "2025-01-01T00:00:00Z",
    managedFields: [{ manager: "devreg-gateway", operation: "Update", apiVersion: "devreg.io/v1", fieldsType: "FieldsV1", time: "2025-01-01T00:00:00Z" }] },
  spec: { publicKey: "${"z".repeat(44)}", deviceId: "${"q".repeat(32)}", model: "acme-thermo-2" }, status: {} }));
const server = https.createServer({ cert: process.env.CERT, key: process.env.KEY }, (req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(201, { "content-type": "application/json", "content-length": answer.length }).end(answer));
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

/** KubeRest.request() as it was on node:https, reduced to what a 2xx POST runs through. */
function nodeHttpsTransport(server: URL, ca: string, token: string) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
  const send = (method: string, path: string, body: unknown): Promise<unknown> => {
    const u = new URL(path, server);
    for (const [k, v] of Object.entries(QUERY)) u.searchParams.set(k, v);
    const payload = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      "user-agent": "devreg/0.1.0",
      "content-type": "application/json",
      "content-length": payload.length,
    };
    const ro = {
      method,
      protocol: u.protocol,
      hostname: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
    };
    return new Promise((resolve, reject) => {
      const req = https.request({ ...ro, agent, ca, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      });
      req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(payload);
    });
  };
  return { send, close: () => agent.destroy() };
}

async function round(send: () => Promise<unknown>): Promise<{ cpuUs: number; perSec: number }> {
  let left = REQUESTS;
  const worker = async () => {
    while (left-- > 0) await send();
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / REQUESTS, perSec: REQUESTS / wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const tls = selfSigned();
const child = spawn(process.execPath, ["--input-type=module", "-e", SERVER], {
  env: { ...process.env, CERT: tls.cert, KEY: tls.key },
  stdio: ["ignore", "pipe", "inherit"],
});
try {
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  const server = new URL(`https://127.0.0.1:${port}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "b", server: server.href, caData: Buffer.from(tls.cert).toString("base64") }],
    users: [{ name: "u", token: "bench-token" }],
    contexts: [{ name: "b", cluster: "b", user: "u" }],
    currentContext: "b",
  });
  const rest = await KubeRest.fromKubeConfig(kc, { maxSockets: 64 });
  const old = nodeHttpsTransport(server, tls.cert, "bench-token");
  const transports = {
    "node:https": () => old.send("POST", PATH, BODY),
    KubeRest: () => rest.request("POST", PATH, { body: BODY, query: QUERY }),
  };
  console.log(
    `@devreg/kube request benchmark — node ${process.version}, ${REQUESTS} POSTs x ${ROUNDS} rounds, ` +
      `concurrency ${CONCURRENCY}, load ${loadavg()[0]!.toFixed(2)}\n`,
  );
  for (const send of Object.values(transports)) await round(send); // warm-up: JIT, connections
  const results: Record<string, { cpuUs: number; perSec: number }[]> = { "node:https": [], KubeRest: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? Object.entries(transports) : Object.entries(transports).reverse();
    for (const [name, send] of order) {
      const res = await round(send);
      results[name]!.push(res);
      console.log(
        `round ${r + 1} ${name.padEnd(10)} ${res.cpuUs.toFixed(1).padStart(7)} µs CPU/request ${Math.round(res.perSec).toString().padStart(7)} requests/s`,
      );
    }
  }
  console.log("");
  for (const [name, rs] of Object.entries(results)) {
    console.log(
      `median   ${name.padEnd(10)} ${median(rs.map((x) => x.cpuUs))
        .toFixed(1)
        .padStart(7)} µs CPU/request ${Math.round(median(rs.map((x) => x.perSec)))
        .toString()
        .padStart(7)} requests/s`,
    );
  }
  rest.close();
  old.close();
} finally {
  child.kill();
}
