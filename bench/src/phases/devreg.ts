import {
  type DeviceIdentity,
  MAX_SOURCE_ADDRESSES,
  VirtualMcu,
  createIdentity,
  isLoopbackUrl,
  nodeCrypto,
  sourceAddress,
} from "@devreg/firmware-sim";
import { LatencyRecorder, type LatencySummary } from "@devreg/runtime";
import { BenchError } from "../errors.ts";
import { type LoadOutcome, type LoadShape, loadShape, runLoad } from "../load/arrivals.ts";

export interface DeviceTarget {
  mqttUrl: string;
  gatewayPublicKey: Uint8Array;
  /** One device's whole enrollment (connect, publish, retries) must end within this. */
  deadlineMs: number;
  /** Told of every device that enrolled (its identity now carries the UUID): a later reconnect phase reuses them. */
  onEnrolled?: (identity: DeviceIdentity) => void;
}

export interface EnrolledDevice {
  mcu: VirtualMcu;
  /** First publish to the verified "approved" reply, in ms. */
  latencyMs: number;
  /** Boot to first publish: TCP connect, MQTT CONNECT and SUBSCRIBE, in ms. */
  connectMs: number;
  /** Requests published beyond the first. */
  retries: number;
}

/** Devices this bench process has booted: each gets the next loopback source address. */
let devicesBooted = 0;

/**
 * Boots one virtual MCU (node crypto: tweetnacl verifies too slowly for a fleet on 2 cores)
 * and resolves once its signed reply verified against the pinned gateway key. Latency runs
 * from the FIRST publish, so busy/pending answers and their retries count against devreg.
 */
export async function enrollOne(
  target: DeviceTarget,
  stayConnected: boolean,
  /** A device that enrolled before (a reconnect); default a new identity. */
  identity: DeviceIdentity = createIdentity(nodeCrypto),
): Promise<EnrolledDevice> {
  const mcu = new VirtualMcu({
    // A realistic fleet: each simulated device is its own host (a loopback address of its own).
    localAddress: isLoopbackUrl(target.mqttUrl)
      ? sourceAddress(devicesBooted++, MAX_SOURCE_ADDRESSES)
      : undefined,
    mqttUrl: target.mqttUrl,
    gatewayPublicKey: target.gatewayPublicKey,
    identity,
    crypto: "node",
    stayConnected,
    deadlineMs: target.deadlineMs,
  });
  const bootAt = performance.now();
  let publishedAt: number | undefined;
  let enrolledAt: number | undefined;
  mcu.once("published", () => {
    publishedAt = performance.now();
  });
  mcu.once("enrolled", () => {
    enrolledAt = performance.now();
  });
  const outcome = await mcu.start();
  if (outcome.phase !== "enrolled" || !outcome.deviceUUID) {
    await mcu.stop();
    const why = outcome.reason ?? outcome.phase;
    const code = outcome.phase === "rejected" ? "E_REJECTED" : "E_TIMEOUT";
    throw new BenchError(
      code,
      `device ${outcome.deviceId} ended ${outcome.phase} (${why}, last: ${outcome.lastError ?? "-"})`,
      `${outcome.phase}: ${why}${outcome.lastError ? `, last ${outcome.lastError}` : ""}`,
    );
  }
  if (publishedAt === undefined || enrolledAt === undefined) {
    throw new BenchError(
      "E_BAD_REPLY",
      "enrolled without a publish: the simulator did not report its events",
    );
  }
  target.onEnrolled?.(identity);
  return {
    mcu,
    latencyMs: enrolledAt - publishedAt,
    connectMs: publishedAt - bootAt,
    retries: Math.max(0, outcome.counters.requests - 1),
  };
}

export interface DevregOptions extends DeviceTarget, LoadShape {}

/** devreg end to end: MQTT publish -> gateway -> registration -> operator -> signed reply, verified. */
export async function runDevreg(
  opts: DevregOptions,
): Promise<LoadOutcome & { verified: number; retries: number; connect: LatencySummary }> {
  let verified = 0;
  let retries = 0;
  const connect = new LatencyRecorder();
  const outcome = await runLoad({
    ...loadShape(opts),
    task: async () => {
      // Latency phases disconnect after the reply so the broker's load stays the same throughout.
      const d = await enrollOne(opts, false);
      await d.mcu.stop();
      verified++;
      retries += d.retries;
      connect.record(d.connectMs);
      return d.latencyMs;
    },
  });
  return { ...outcome, verified, retries, connect: connect.summary() };
}

export interface ReconnectOptions extends DeviceTarget {
  /** Devices that enrolled before; each comes back once, all at once. */
  identities: DeviceIdentity[];
  budgetMs?: number;
}

/**
 * The reconnect storm (issue 16): every already-enrolled device reconnects and re-enrolls at
 * once, as after a gateway restart or a power cut. No in-flight cap: all N start together.
 * Each must get its verified "approved" reply again (AlreadyEnrolled, the same UUID); the
 * gateway answers from its cache, so the phase's apiserver writes per operation should be 0.
 */
export async function runReconnect(
  opts: ReconnectOptions,
): Promise<LoadOutcome & { verified: number; retries: number; connect: LatencySummary }> {
  let verified = 0;
  let retries = 0;
  const connect = new LatencyRecorder();
  const outcome = await runLoad({
    count: opts.identities.length,
    arrival: { mode: "burst", of: "reconnect" },
    concurrency: Math.max(1, opts.identities.length),
    budgetMs: opts.budgetMs,
    task: async (i) => {
      const identity = opts.identities[i]!;
      const before = identity.deviceUUID;
      const d = await enrollOne(opts, false, identity);
      await d.mcu.stop();
      if (before !== undefined && d.mcu.state.deviceUUID !== before) {
        throw new BenchError("E_BAD_REPLY", `device ${identity.deviceId} came back with another UUID`);
      }
      verified++;
      retries += d.retries;
      connect.record(d.connectMs);
      return d.latencyMs;
    },
  });
  return { ...outcome, verified, retries, connect: connect.summary() };
}
