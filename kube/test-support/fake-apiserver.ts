import { EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeRest, type KubeRestOptions } from "../src/rest.ts";

/**
 * A fault-injecting fake apiserver for ONE collection, on node:http: list and watch (with
 * resume from a resourceVersion and BOOKMARKs), and the faults an informer must heal from:
 * 410 Gone, a watch cut mid-stream, lists that fail, a server that refuses connections.
 * Anything else (GET /version, say) answers 200 {}: "some other request got through".
 */
export interface FakeObject {
  metadata: { name: string; namespace: string; resourceVersion: string };
  [field: string]: unknown;
}

/** One request the fake answered. */
export interface Served {
  kind: "list" | "watch" | "other";
  /** The resourceVersion a watch asked to start from. */
  resourceVersion?: string;
  status: number;
  /** A watch answered with a 410 ERROR event (its resourceVersion was compacted away). */
  gone?: boolean;
}

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: FakeObject;
}

/** A KubeRest for a plain-HTTP test server (no TLS; a bearer token when `token` is given). */
export function plainHttpClient(
  server: string,
  opts: KubeRestOptions = {},
  token?: string,
): Promise<KubeRest> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server, skipTLSVerify: true }],
    users: [{ name: "u", token }],
    contexts: [{ name: "test", cluster: "test", user: "u" }],
    currentContext: "test",
  });
  return KubeRest.fromKubeConfig(kc, opts);
}

export const FAKE_NAMESPACE = "ns";
export const FAKE_PATH = `/apis/test.example.com/v1/namespaces/${FAKE_NAMESPACE}/things`;

export class FakeApiserver extends EventEmitter<{ served: [Served] }> {
  readonly served: Served[] = [];
  private rv = 1;
  private readonly objects = new Map<string, FakeObject>();
  private readonly history: WatchEvent[] = [];
  /** Watches from a resourceVersion below this get 410 Gone (etcd compaction). */
  private compactedRv = 0;
  private readonly watches = new Set<http.ServerResponse>();
  private readonly listFailures: number[] = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private port = 0;

  static async start(): Promise<FakeApiserver> {
    const fake = new FakeApiserver();
    await fake.up();
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeRest pointed at this fake. */
  client(): Promise<KubeRest> {
    return plainHttpClient(this.url);
  }

  /** Creates or changes `name` and tells every open watch (ADDED or MODIFIED). */
  put(name: string, fields: Record<string, unknown> = {}): FakeObject {
    const type = this.objects.has(name) ? "MODIFIED" : "ADDED";
    const object = {
      ...fields,
      metadata: { name, namespace: FAKE_NAMESPACE, resourceVersion: String(++this.rv) },
    };
    this.objects.set(name, object);
    this.publish({ type, object });
    return object;
  }

  remove(name: string): void {
    const old = this.objects.get(name);
    if (!old) return;
    this.objects.delete(name);
    this.publish({
      type: "DELETED",
      object: { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } },
    });
  }

  /** Sends a BOOKMARK carrying a newer resourceVersion (other collections moved on); returns it. */
  bookmark(): string {
    const resourceVersion = String(++this.rv);
    this.send({ type: "BOOKMARK", object: { kind: "Thing", metadata: { resourceVersion } } });
    return resourceVersion;
  }

  /** Forgets all history so far: a watch resuming from before now gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
  }

  /** The next `count` lists answer `status` (default 500) instead of the collection. */
  failLists(count: number, status = 500): void {
    for (let i = 0; i < count; i++) this.listFailures.push(status);
  }

  /** Ends every open watch cleanly, as the apiserver does when a watch's timeoutSeconds is up. */
  endWatches(): void {
    for (const res of this.watches) res.end();
    this.watches.clear();
  }

  /** Cuts every open watch mid-stream (the connection drops; no clean end of the response). */
  dropWatches(): void {
    for (const res of this.watches) res.socket?.destroy();
    this.watches.clear();
  }

  /** Stops listening and drops every connection: clients get ECONNREFUSED until up(). */
  async down(): Promise<void> {
    this.watches.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens (again) on the same port. */
  async up(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The next request of `kind` the fake answers from now on. */
  next(kind: Served["kind"]): Promise<Served> {
    return new Promise((resolve) => {
      const onServed = (s: Served) => {
        if (s.kind !== kind) return;
        this.off("served", onServed);
        resolve(s);
      };
      this.on("served", onServed);
    });
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private record(s: Served): void {
    this.served.push(s);
    this.emit("served", s);
  }

  private publish(ev: WatchEvent): void {
    this.history.push(ev);
    this.send(ev);
  }

  private send(ev: unknown): void {
    const line = `${JSON.stringify(ev)}\n`;
    for (const res of this.watches) res.write(line);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== FAKE_PATH) {
      json(200, {});
      this.record({ kind: "other", status: 200 });
      return;
    }
    if (url.searchParams.get("watch") === null) {
      const failure = this.listFailures.shift();
      if (failure !== undefined) {
        json(failure, { kind: "Status", code: failure, message: "injected failure" });
      } else {
        const items = [...this.objects.values()];
        json(200, {
          kind: "ThingList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      this.record({ kind: "list", status: failure ?? 200 });
      return;
    }
    const resourceVersion = url.searchParams.get("resourceVersion") ?? undefined;
    const from = Number(resourceVersion ?? this.rv);
    res.writeHead(200, { "content-type": "application/json" });
    if (from < this.compactedRv) {
      // [k8s API concepts] the apiserver answers a watch from a compacted version with a 410 Status event.
      const status = {
        kind: "Status",
        code: 410,
        reason: "Expired",
        message: `too old resource version: ${from}`,
      };
      res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
      this.record({ kind: "watch", resourceVersion, status: 200, gone: true });
      return;
    }
    res.flushHeaders(); // the stream is open even while there is nothing to send: a drop is mid-stream
    for (const ev of this.history)
      if (Number(ev.object.metadata.resourceVersion) > from) res.write(`${JSON.stringify(ev)}\n`);
    this.watches.add(res);
    res.on("close", () => this.watches.delete(res));
    this.record({ kind: "watch", resourceVersion, status: 200 });
  }
}
