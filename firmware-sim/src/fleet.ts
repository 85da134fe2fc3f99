/**
 * N virtual MCUs in one process, booted at a fixed rate. Per device there is one mqtt.js
 * client (no auto-reconnect) and the device's single timer; the ramp and the progress
 * report are one fleet-wide timer each.
 */
import { EventEmitter } from "node:events";
import { join } from "node:path";
import type { DeviceMetadata } from "@devreg/protocol";
import type { RetrySettings } from "./backoff.ts";
import { type CryptoBackendName, deviceCrypto } from "./device-crypto.ts";
import { SimError } from "./errors.ts";
import { identityFileName, loadFleetIdentities } from "./fleet-identities.ts";
import { createIdentity, type DeviceIdentity } from "./identity.ts";
import type { McuCounters, McuPhase } from "./machine.ts";
import { checkMetadata } from "./metadata.ts";
import { type Percentiles, summarize } from "@devreg/runtime";
import { probeBroker } from "./probe.ts";
import { MAX_SOURCE_ADDRESSES, isLoopbackUrl, sourceAddress } from "./source-address.ts";
import { DEFAULT_METADATA, type McuOutcome, VirtualMcu } from "./virtual-mcu.ts";

export interface FleetOptions {
  count: number;
  /** Devices booted per second. */
  rate: number;
  mqttUrl: string;
  /** mqtts:// only: PEM CA certificate(s) the devices trust instead of the system's. */
  tlsCa?: string;
  gatewayPublicKey: Uint8Array;
  /** One identity file per device (see fleet-identities.ts); absent: fresh keys in memory. */
  identitiesDir?: string;
  metadata?: DeviceMetadata;
  /** Default "node": tweetnacl cannot verify and sign fast enough for thousands of devices. */
  crypto?: CryptoBackendName;
  /** Per-device enrollment deadline, from that device's boot. Default 60 s. */
  deadlineMs?: number;
  retry?: Partial<RetrySettings>;
  /** See VirtualMcuOptions.retryRejected. Default false: "rejected" is an outcome. */
  retryRejected?: boolean;
  /** Default 120 s: enough to detect a dead broker, few pings from 10 000 devices. */
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
  progressIntervalMs?: number;
  /** TCP-probe the broker first (fails fast with E_GATEWAY_UNREACHABLE). Default true. */
  probe?: boolean;
  /**
   * Abort with E_GATEWAY_KEY_MISMATCH once this many replies failed their signature check
   * while none verified. Default min(10, count); 0 turns it off.
   */
  keyMismatchThreshold?: number;
  /**
   * Loopback source addresses the fleet's devices connect from, shared round-robin, so a
   * gateway's per-address limits apply per simulated host as in the field. Default: one
   * address per device when the gateway is on loopback (127.0.0.0/8), else none; 0 = none
   * (every device from the kernel's choice, 127.0.0.1 on loopback).
   */
  sourceAddresses?: number;
}

export type FinalOutcome = McuOutcome["phase"];

export interface FleetProgress {
  elapsedMs: number;
  count: number;
  booted: number;
  /** Devices that have connected at least once. */
  connected: number;
  /** Devices per phase right now. */
  phases: Record<McuPhase, number>;
  final: number;
}

export interface FleetSummary {
  count: number;
  crypto: CryptoBackendName;
  durationMs: number;
  rate: { target: number; boot: number; connect: number };
  outcomes: Record<FinalOutcome, number> & { unfinished: number };
  /** Every device ended enrolled, rejected or deactivated (failed ones did not). */
  allFinal: boolean;
  latencyMs: {
    /** Publish of the last request to the verified final reply. */
    reply: Percentiles;
    /** Boot to the final state. */
    bootToFinal: Percentiles;
  };
  /** Devices that did not end enrolled, by "<phase>: <reason>". */
  errors: Record<string, number>;
  /** Every retry, by its cause (e.g. ECONNREFUSED, busy, reply-timeout, connack-3). */
  retries: Record<string, number>;
  /** Totals over all devices. */
  counters: McuCounters;
  aborted?: { code: string; message: string };
}

export type FleetEvents = {
  progress: [progress: FleetProgress];
  /** A device reached its first final state. */
  device: [outcome: McuOutcome, index: number];
};

const PHASES: readonly McuPhase[] = [
  "booting",
  "connecting",
  "enrolling",
  "waiting",
  "enrolled",
  "rejected",
  "deactivated",
  "failed",
];

export class Fleet extends EventEmitter<FleetEvents> {
  readonly #o: Required<Pick<FleetOptions, "count" | "rate">> & FleetOptions;
  readonly #devices: VirtualMcu[] = [];
  readonly #phases = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<McuPhase, number>;
  #identities: DeviceIdentity[] | undefined;
  /** Loopback source addresses in use (0: none bound). */
  readonly #sources: number;
  #firstConnectAt: number[] = [];
  #retries: Record<string, number> = {};
  #final = 0;
  #verified = 0;
  #badSignatures = 0;
  #startedAt = 0;
  #lastBootAt = 0;
  #lastTickAt = 0;
  #endedAt: number | undefined;
  #ramp: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #abort: SimError | undefined;
  #finish!: () => void;
  readonly #done = new Promise<void>((resolve) => {
    this.#finish = resolve;
  });
  #running: Promise<FleetSummary> | undefined;

  constructor(opts: FleetOptions) {
    super();
    if (!Number.isInteger(opts.count) || opts.count < 1)
      throw new SimError("E_BAD_OPTION", "count must be an integer >= 1");
    if (!(opts.rate > 0)) throw new SimError("E_BAD_OPTION", "rate must be > 0 devices/s");
    if (!(opts.gatewayPublicKey instanceof Uint8Array) || opts.gatewayPublicKey.length !== 32) {
      throw new SimError("E_BAD_OPTION", "gatewayPublicKey must be 32 bytes");
    }
    const sources = opts.sourceAddresses ?? (isLoopbackUrl(opts.mqttUrl) ? Math.min(opts.count, MAX_SOURCE_ADDRESSES) : 0);
    if (!Number.isInteger(sources) || sources < 0 || sources > MAX_SOURCE_ADDRESSES) {
      throw new SimError("E_BAD_OPTION", `sourceAddresses must be an integer 0..${MAX_SOURCE_ADDRESSES}`);
    }
    if (sources > 0 && !isLoopbackUrl(opts.mqttUrl)) {
      throw new SimError("E_BAD_OPTION", "sourceAddresses needs a gateway on loopback (127.0.0.0/8)");
    }
    this.#sources = sources;
    this.#o = opts;
  }

  /** Boots the fleet and resolves with the summary once every device is final (or rejects on abort). */
  run(): Promise<FleetSummary> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /** Stops booting, stops every device (live ones end "failed: stopped"); run() then resolves. */
  async stop(): Promise<void> {
    this.#endedAt ??= Date.now();
    clearInterval(this.#ramp);
    await Promise.all(this.#devices.map((d) => d.stop()));
    this.#finish();
  }

  progress(): FleetProgress {
    return {
      elapsedMs: (this.#endedAt ?? Date.now()) - this.#startedAt,
      count: this.#o.count,
      booted: this.#devices.length,
      connected: this.#firstConnectAt.length,
      phases: { ...this.#phases },
      final: this.#final,
    };
  }

  async #run(): Promise<FleetSummary> {
    const o = this.#o;
    const crypto = deviceCrypto(o.crypto ?? "node");
    checkMetadata(o.metadata ?? DEFAULT_METADATA);
    if (o.probe ?? true) await probeBroker(o.mqttUrl);
    if (o.identitiesDir) this.#identities = await loadFleetIdentities(o.identitiesDir, o.count, crypto);

    this.#startedAt = Date.now();
    this.#ramp = setInterval(() => this.#rampTick(), 10);
    this.#rampTick();
    const every = o.progressIntervalMs ?? 1000;
    this.#ticker = setInterval(() => this.emit("progress", this.progress()), every);
    try {
      await this.#done;
    } finally {
      clearInterval(this.#ramp);
      clearInterval(this.#ticker);
      this.#endedAt ??= Date.now();
      await Promise.all(this.#devices.map((d) => d.stop()));
    }
    this.emit("progress", this.progress());
    if (this.#abort) throw this.#abort;
    return this.summary();
  }

  #rampTick(): void {
    const o = this.#o;
    const now = Date.now();
    const due = Math.min(o.count, Math.floor(((now - this.#startedAt) / 1000) * o.rate) + 1);
    // Catch up at twice the rate at most, over at most 100 ms: a ramp that fell behind must
    // not boot hundreds of devices in one synchronous burst while replies wait in the queue.
    const dt = Math.min(100, Math.max(10, now - this.#lastTickAt));
    this.#lastTickAt = now;
    const limit = this.#devices.length + Math.max(1, Math.ceil((o.rate * dt * 2) / 1000));
    while (this.#devices.length < Math.min(due, limit) && this.#endedAt === undefined) {
      this.#boot(this.#devices.length);
    }
    if (this.#devices.length >= o.count) clearInterval(this.#ramp);
  }

  #boot(index: number): void {
    const o = this.#o;
    const crypto = o.crypto ?? "node";
    const identity = this.#identities?.[index] ?? createIdentity(deviceCrypto(crypto));
    const d = new VirtualMcu({
      mqttUrl: o.mqttUrl,
      gatewayPublicKey: o.gatewayPublicKey,
      identity,
      identityPath: o.identitiesDir ? join(o.identitiesDir, identityFileName(index)) : undefined,
      metadata: o.metadata,
      crypto,
      retry: o.retry,
      retryRejected: o.retryRejected,
      deadlineMs: o.deadlineMs ?? 60_000,
      keepaliveSeconds: o.keepaliveSeconds ?? 120,
      connectTimeoutMs: o.connectTimeoutMs,
      localAddress: this.#sources > 0 ? sourceAddress(index, this.#sources) : undefined,
      tlsCa: o.tlsCa,
    });
    this.#devices.push(d);
    this.#lastBootAt = Date.now();
    this.#phases.booting++;
    let connected = false;
    let final = false;
    d.on("state", (phase, prev) => {
      this.#phases[prev]--;
      this.#phases[phase]++;
      if (phase === "waiting") {
        const why = d.state.lastError ?? "unknown";
        this.#retries[why] = (this.#retries[why] ?? 0) + 1;
      }
      if (!connected && prev === "connecting" && phase === "enrolling") {
        connected = true;
        this.#firstConnectAt.push(Date.now());
      }
    });
    d.on("final", (outcome) => {
      if (final) return;
      final = true;
      this.#final++;
      this.emit("device", outcome, index);
      if (this.#final === o.count) this.#finish();
    });
    d.on("reply", () => {
      this.#verified++;
    });
    d.on("reply-refused", (err) => {
      if (err.code !== "E_BAD_SIGNATURE") return;
      this.#badSignatures++;
      const threshold = o.keyMismatchThreshold ?? Math.min(10, o.count);
      if (threshold > 0 && this.#verified === 0 && this.#badSignatures >= threshold && !this.#abort) {
        this.#abort = new SimError(
          "E_GATEWAY_KEY_MISMATCH",
          `gateway replies do not verify against the pinned key (${this.#badSignatures} replies refused, none verified)`,
        );
        void this.stop();
      }
    });
    d.start().catch((err: unknown) => {
      // Identity files were loaded up front, so only bad metadata can land here: same for all.
      if (!this.#abort) {
        this.#abort = err instanceof SimError ? err : new SimError("E_BAD_OPTION", String(err));
        void this.stop();
      }
    });
  }

  summary(): FleetSummary {
    const o = this.#o;
    const outcomes = { enrolled: 0, rejected: 0, deactivated: 0, failed: 0, unfinished: 0 };
    const errors: Record<string, number> = {};
    const reply: number[] = [];
    const bootToFinal: number[] = [];
    const counters: Record<string, number> = {};
    for (const d of this.#devices) {
      for (const [k, v] of Object.entries(d.state.counters)) counters[k] = (counters[k] ?? 0) + v;
      const out = d.outcome();
      if (!out) {
        outcomes.unfinished++;
        continue;
      }
      outcomes[out.phase]++;
      bootToFinal.push(out.bootToFinalMs);
      if (out.replyLatencyMs !== undefined) reply.push(out.replyLatencyMs);
      if (out.phase !== "enrolled") {
        const why =
          out.phase === "failed" && out.lastError
            ? `${out.reason} (last: ${out.lastError})`
            : (out.reason ?? "-");
        const key = `${out.phase}: ${why}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
    outcomes.unfinished += o.count - this.#devices.length;
    const durationMs = (this.#endedAt ?? Date.now()) - this.#startedAt;
    const connects = this.#firstConnectAt;
    const span = connects.length > 1 ? (connects[connects.length - 1]! - connects[0]!) / 1000 : 0;
    const booted = this.#devices.length;
    const bootSpan = (this.#lastBootAt - this.#startedAt) / 1000;
    const summary: FleetSummary = {
      count: o.count,
      crypto: o.crypto ?? "node",
      durationMs,
      rate: {
        target: o.rate,
        // Device 0 boots at t=0, so n devices span n-1 intervals.
        boot: round1(booted > 1 && bootSpan > 0 ? (booted - 1) / bootSpan : booted),
        connect: round1(span > 0 ? (connects.length - 1) / span : connects.length),
      },
      outcomes,
      allFinal: outcomes.failed === 0 && outcomes.unfinished === 0,
      latencyMs: { reply: summarize(reply), bootToFinal: summarize(bootToFinal) },
      errors,
      retries: { ...this.#retries },
      counters: counters as unknown as McuCounters,
    };
    if (this.#abort) summary.aborted = { code: this.#abort.code, message: this.#abort.message };
    return summary;
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Runs a fleet to the end; rejects with a SimError for an unreachable gateway, wrong key, bad identity file. */
export function runFleet(opts: FleetOptions, onProgress?: (p: FleetProgress) => void): Promise<FleetSummary> {
  const fleet = new Fleet(opts);
  if (onProgress) fleet.on("progress", onProgress);
  return fleet.run();
}
