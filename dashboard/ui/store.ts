import { type DeviceRow, compareRows } from "../src/shared/device-row.ts";
import type { StreamMessage } from "../src/shared/stream.ts";

/**
 * The page's copy of the namespace's registrations, fed only by the server's watch stream
 * (a snapshot, then batches of changes). `sorted` is rebuilt once per batch, not per row.
 */
export class DeviceStore {
  private readonly rows = new Map<string, DeviceRow>();
  sorted: DeviceRow[] = [];
  version = 0;
  loaded = false;
  private listeners = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(name: string): DeviceRow | undefined {
    return this.rows.get(name);
  }

  get size(): number {
    return this.rows.size;
  }

  apply(m: Extract<StreamMessage, { type: "snapshot" | "changes" }>): void {
    if (m.type === "snapshot") {
      this.rows.clear();
      for (const r of m.devices) this.rows.set(r.name, r);
      this.loaded = true;
    } else {
      for (const r of m.upserts) this.rows.set(r.name, r);
      for (const n of m.deletes) this.rows.delete(n);
    }
    this.sorted = [...this.rows.values()].sort(compareRows);
    this.version++;
    for (const fn of this.listeners) fn();
  }
}
