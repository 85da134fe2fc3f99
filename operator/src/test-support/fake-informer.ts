import { EventEmitter } from "node:events";

/** An informer's surface without an apiserver, for unit tests: a store, and its events on put. */
export class FakeInformer<T extends { metadata: { name: string; namespace?: string } }> extends EventEmitter {
  readonly store = new Map<string, T>();

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  values(): IterableIterator<T> {
    return this.store.values();
  }

  put(obj: T): void {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const had = this.store.has(key);
    this.store.set(key, obj);
    this.emit(had ? "update" : "add", obj);
  }
}
