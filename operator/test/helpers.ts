import { randomBytes } from "node:crypto";
import type { DeviceRegistration, KubeRest, Registrations } from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { pino } from "pino";
import { type OperatorHandle, type OperatorOptions, startOperator } from "../src/index.ts";

/** Short lease timings so failover tests take seconds, not a quarter minute. */
export const FAST_LEASE = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 400 } as const;

/** Set DEVREG_TEST_LOG=debug to see operator logs in test output. */
export function testOperator(kubeconfig: string, namespace: string, over: OperatorOptions = {}): Promise<OperatorHandle> {
  return startOperator({
    kubeconfig,
    namespace,
    httpPort: 0,
    httpHost: "127.0.0.1",
    concurrency: 8,
    ...FAST_LEASE,
    logger: pino({ level: process.env.DEVREG_TEST_LOG ?? "silent" }),
    ...over,
  });
}

/** A registration as the gateway creates it: named dev-<deviceId>, deviceId = fingerprint of the key. */
export function gatewayRegistration(extra: Partial<DeviceRegistration["spec"]> = {}) {
  const key = randomBytes(32);
  const deviceId = deviceIdFromPublicKey(new Uint8Array(key));
  return {
    metadata: { name: `dev-${deviceId}`, labels: { "devices.example.com/device-id": deviceId } },
    spec: { publicKey: key.toString("base64"), deviceId, model: "th-01", firmwareVersion: "1.0.0", ...extra },
  };
}

export async function createDevice(regs: Registrations, extra: Partial<DeviceRegistration["spec"]> = {}) {
  return regs.create(gatewayRegistration(extra));
}

/** Polls `fn` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForPhase(regs: Registrations, name: string, phase: string, timeoutMs = 15_000) {
  return waitFor(`${name} to be ${phase}`, async () => {
    const r = await regs.get(name);
    return r.status?.phase === phase && r.status.observedGeneration === r.metadata.generation ? r : undefined;
  }, timeoutMs);
}

export interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
  source?: { component?: string };
}

export async function eventsFor(rest: KubeRest, namespace: string, name: string): Promise<KubeEvent[]> {
  const list = await rest.request<{ items: KubeEvent[] }>("GET", `/api/v1/namespaces/${namespace}/events`, {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items;
}

export async function waitForEvent(rest: KubeRest, namespace: string, name: string, reason: string, timeoutMs = 15_000) {
  return waitFor(`event ${reason} on ${name}`, async () => (await eventsFor(rest, namespace, name)).find((e) => e.reason === reason), timeoutMs);
}

export async function getJson(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}
