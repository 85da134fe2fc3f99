import {
  type ConfigMap,
  type DeviceRegistration,
  Informer,
  type KubeRest,
  PAIRING_CONFIGMAP,
  Registrations,
  configMapsPath,
  dropManagedFields,
} from "@devreg/kube";
import { parsePairing } from "@devreg/operator";
import { type DeviceRow, rowOf } from "./shared/device-row.ts";
import type { PairingView, StreamMessage } from "./shared/stream.ts";

/** The ConfigMap's fields the operator defines (kube/src/pairing.ts); anything else is shown as text. */
const PAIRING_FIELDS = new Set(["enabled", "expiresAt", "mode", "windowId", "maxDevices", "approvalsUsed", "selector"]);

/** What the browser gets of the pairing ConfigMap: the operator's own reading (parsePairing), plus unknown fields as text. Pure. */
export function pairingView(cm: ConfigMap | undefined, now: Date): PairingView {
  const state = parsePairing(cm, now);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(cm?.data ?? {})) if (!PAIRING_FIELDS.has(k)) extra[k] = v;
  const view: PairingView = { open: state.open, code: state.code, reason: state.reason, expiresAt: state.expiresAt?.toISOString(), extra };
  if (state.window) view.window = { ...state.window };
  return view;
}

/**
 * Coalesces informer events into batches: a fleet enrolling at 1,000/s becomes a few
 * messages per second, each with the latest row per device. Pure apart from the clock the
 * caller runs it on.
 */
class RowBatcher {
  private readonly pending = new Map<string, DeviceRow | null>();

  upsert(row: DeviceRow): void {
    this.pending.set(row.name, row);
  }

  remove(name: string): void {
    this.pending.set(name, null);
  }

  clear(): void {
    this.pending.clear();
  }

  /** The batch so far, or undefined when nothing changed. */
  take(): Extract<StreamMessage, { type: "changes" }> | undefined {
    if (this.pending.size === 0) return undefined;
    const upserts: DeviceRow[] = [];
    const deletes: string[] = [];
    for (const [name, row] of this.pending) {
      if (row) upserts.push(row);
      else deletes.push(name);
    }
    this.pending.clear();
    return { type: "changes", upserts, deletes };
  }
}

export interface LiveStreamOptions {
  rest: KubeRest;
  namespace: string;
  send: (m: StreamMessage) => void;
  flushMs?: number;
}

/**
 * One browser tab's live view, with the tab's user's credential: a watch of the namespace's
 * DeviceRegistrations and one of the pairing ConfigMap (list+watch, resumed and re-listed by
 * the Informer), batched to the page. Nothing here polls the API server.
 */
export class LiveStream {
  private readonly devices: Informer<DeviceRegistration>;
  private readonly pairing: Informer<ConfigMap>;
  private readonly batcher = new RowBatcher();
  private readonly flusher: NodeJS.Timeout;
  private snapshotSent = false;
  private lastError = new Map<string, string>();

  constructor(private readonly o: LiveStreamOptions) {
    this.devices = new Informer<DeviceRegistration>(o.rest, {
      path: new Registrations(o.rest, o.namespace).collectionPath(),
      transform: dropManagedFields,
    });
    this.pairing = new Informer<ConfigMap>(o.rest, {
      path: configMapsPath(o.namespace),
      fieldSelector: `metadata.name=${PAIRING_CONFIGMAP}`,
    });
    this.devices.on("add", (r) => this.batcher.upsert(rowOf(r)));
    this.devices.on("update", (r) => this.batcher.upsert(rowOf(r)));
    this.devices.on("delete", (r) => this.batcher.remove(r.metadata.name));
    this.devices.on("synced", () => {
      this.lastError.delete("devices");
      if (this.snapshotSent) return;
      this.snapshotSent = true;
      this.batcher.clear();
      o.send({ type: "snapshot", devices: [...this.devices.values()].map(rowOf), serverTime: Date.now() });
    });
    this.devices.on("error", (e) => this.error("devices", e));
    const sendPairing = () =>
      o.send({ type: "pairing", pairing: pairingView(this.pairing.values().next().value, new Date()), serverTime: Date.now() });
    this.pairing.on("add", sendPairing);
    this.pairing.on("update", sendPairing);
    this.pairing.on("delete", sendPairing);
    this.pairing.on("synced", () => {
      this.lastError.delete("pairing");
      if (this.pairing.size === 0) sendPairing();
    });
    this.pairing.on("error", (e) => this.error("pairing", e));
    this.flusher = setInterval(() => {
      if (!this.snapshotSent) return;
      const batch = this.batcher.take();
      if (batch) o.send(batch);
    }, o.flushMs ?? 150);
  }

  start(): void {
    this.devices.start();
    this.pairing.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.flusher);
    await Promise.all([this.devices.stop(), this.pairing.stop()]);
  }

  /** An informer error reaches the page once per distinct message (it retries by itself). */
  private error(source: "devices" | "pairing", e: Error): void {
    const code = (e as { code?: string }).code ?? "E_UNKNOWN";
    const message = e.message.slice(0, 300);
    if (this.lastError.get(source) === message) return;
    this.lastError.set(source, message);
    this.o.send({ type: "error", source, code, message });
  }
}
