// Throwaway diagnostic: pprof of kube-apiserver during (a) bare patches, (b) bare + passive watch, (c) the operator.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, openSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DeviceRegistration, Informer, KubeRest, Registrations, clusterDown, clusterUp, ensureNamespace, installCrds, resolveKubeConfig, freePort } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { pino } from "pino";
import { v4 as uuidv4 } from "uuid";
import { decide } from "./src/decide.ts";
import { parsePairing, setPairing, startOperator } from "./src/index.ts";
import { writeStatus } from "./src/status-writer.ts";
import { gatewayRegistration } from "./test/helpers.ts";

const N = 1500;
const stateDir = mkdtempSync(join(tmpdir(), "devreg-prof-"));
const st = await clusterUp({ stateDir });
const args = readFileSync(`/proc/${st.apiserverPid}/cmdline`, "utf8").split("\0").filter(Boolean);
const port = await freePort();
const bin = args[0] as string;
const a2 = args.slice(1).map((a) => a === "--profiling=false" ? "--profiling=true" : a.startsWith("--secure-port=") ? `--secure-port=${port}` : a);
const child = spawn(bin, a2, { stdio: ["ignore", openSync("/tmp/apiprof/api2.log", "a"), openSync("/tmp/apiprof/api2.log", "a")] });
const kcPath = join(stateDir, "kubeconfig2");
writeFileSync(kcPath, readFileSync(st.kubeconfig, "utf8").replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
const ca = readFileSync(st.caCert);
function get(path: string, file?: string): Promise<Buffer> {
  return new Promise((res, rej) => {
    https.get(`https://127.0.0.1:${port}${path}`, { ca, headers: { authorization: `Bearer ${st.adminToken}` } }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c) => chunks.push(c));
      r.on("end", () => { const b = Buffer.concat(chunks); if (file) writeFileSync(file, b); res(b); });
    }).on("error", rej);
  });
}
for (let i = 0; i < 200; i++) { try { await get("/readyz"); break; } catch { await new Promise((r) => setTimeout(r, 200)); } }
const rest = await KubeRest.fromKubeConfig(resolveKubeConfig(kcPath).kc, { maxSockets: 40 });
const cpu = () => { const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" "); return (Number(f[11]) + Number(f[12])) / 100; };
async function create(ns: string) {
  await ensureNamespace(rest, ns);
  const regs = new Registrations(rest, ns);
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { while (next < N) { next++; await regs.create(gatewayRegistration()); } }));
  return regs;
}
async function bare(ns: string, watch: boolean) {
  const regs = await create(ns);
  const items = (await regs.list()).items;
  let w: Informer<DeviceRegistration> | undefined;
  if (watch) { w = new Informer(rest, { path: regs.collectionPath() }); w.on("error", () => {}); w.start(); await w.waitForSync(); }
  const pairing = parsePairing({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { enabled: "true" } }, new Date());
  const prof = get("/debug/pprof/profile?seconds=12", `/tmp/apiprof/${ns}.pb.gz`);
  const c0 = cpu(); const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < items.length) { const reg = items[next++]!; const d = decide(reg, pairing, new Date(), { newUUID: uuidv4, deviceIdOf: deviceIdFromPublicKey }); if (d.action === "update") await writeStatus(regs, reg.metadata.name, d.status, reg.metadata.resourceVersion); } }));
  console.log(ns, "wall", Date.now() - t0, "ms; apiserver cpu", (cpu() - c0).toFixed(1), "s");
  await w?.stop();
  await prof;
}
async function op(ns: string) {
  const regs = await create(ns);
  await setPairing(rest, ns, { enabled: true });
  let n = 0;
  const prof = get("/debug/pprof/profile?seconds=12", `/tmp/apiprof/${ns}.pb.gz`);
  const c0 = cpu(); const t0 = Date.now();
  const h = await startOperator({ kubeconfig: kcPath, namespace: ns, concurrency: 16, httpPort: 0, logger: pino({ level: "silent" }) });
  h.onDecision(() => n++);
  while (n < N) await new Promise((r) => setTimeout(r, 20));
  console.log(ns, "wall", Date.now() - t0, "ms; apiserver cpu", (cpu() - c0).toFixed(1), "s");
  await h.stop();
  await prof;
}
try {
  await installCrds(rest);
  await bare("bare", false);
  await bare("barewatch", true);
  await op("operator");
} finally {
  rest.close();
  child.kill("SIGKILL");
  await clusterDown({ stateDir });
}
