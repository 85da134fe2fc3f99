import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeConnectProof, generateDeviceKeyPair, deviceIdFromPublicKey, newNonce } from "@devreg/protocol";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { freshNamespace, testKube } from "../../kube/test-support/kube.ts";

const DEVREG = resolve(fileURLToPath(new URL("../../bin/devreg", import.meta.url)));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

/** Starts `devreg gateway …` and resolves with its MQTT port once it serves. */
function startGateway(args: string[]): Promise<number> {
  const child = spawn(DEVREG, ["gateway", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((res, rej) => {
    let err = "";
    const t = setTimeout(() => rej(new Error(`gateway did not start: ${err}`)), 60_000);
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
      const m = /serving namespace \S+: mqtt :(\d+)/.exec(err);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    child.on("exit", (code) => rej(new Error(`gateway exited ${code}: ${err}`)));
  });
}

async function connackWithKeepalive(port: number, keepalive: number): Promise<number> {
  const keyPair = generateDeviceKeyPair();
  const deviceId = deviceIdFromPublicKey(keyPair.publicKey);
  const password = Buffer.from(encodeConnectProof({ keyPair, nonce: newNonce(), timestamp: Math.floor(Date.now() / 1000) }));
  try {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: deviceId,
      username: deviceId,
      password,
      keepalive,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await c.endAsync(true);
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

describe("devreg gateway --config", () => {
  it("takes settings from a YAML file (here the keepalive bound [PROTO-5a]); a flag on the command line wins over the file", async () => {
    const { rest, kubeconfig } = await testKube();
    const ns = await freshNamespace(rest, "gw-config");
    rest.close();
    const dir = mkdtempSync(join(tmpdir(), "devreg-gwcfg-"));
    const config = join(dir, "gateway.yaml");
    writeFileSync(config, "mqtt:\n  maxKeepaliveSeconds: 30\n  port: 1\nlimits:\n  replayPerDevice: 8\n");
    const port = await startGateway([
      "--kubeconfig", kubeconfig, "--namespace", ns, "--config", config,
      "--mqtt-port", "0", "--http-port", "0", "--admin-port", "0", "--host", "127.0.0.1",
      "--key-file", join(dir, "key.pem"), "--log-level", "warn",
    ]);
    // --mqtt-port 0 (given) beat the file's port 1; the file's keepalive bound applies.
    expect(port).toBeGreaterThan(1);
    expect(await connackWithKeepalive(port, 20)).toBe(0);
    expect(await connackWithKeepalive(port, 60)).toBe(5);
  });
});
