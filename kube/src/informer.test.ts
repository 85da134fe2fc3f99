import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FAKE_NAMESPACE, FAKE_PATH, FakeApiserver, type FakeObject } from "../test-support/fake-apiserver.ts";
import { Informer, type InformerEvents, type InformerOptions } from "./informer.ts";
import type { KubeRest } from "./rest.ts";

// The informer's self-healing, against a fake apiserver that injects the faults a real one
// shows: 410 Gone, watches cut mid-stream, failing and refused lists, BOOKMARKs.
let fake: FakeApiserver;
let rest: KubeRest;
let informer: Informer<FakeObject> | undefined;

beforeEach(async () => {
  fake = await FakeApiserver.start();
  rest = await fake.client();
});
afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  rest.close();
  await fake.close();
});

function startInformer(opts: Partial<InformerOptions<FakeObject>> = {}): Informer<FakeObject> {
  informer = new Informer<FakeObject>(rest, {
    path: FAKE_PATH,
    backoffInitialMs: 10,
    backoffMaxMs: 40,
    ...opts,
  });
  informer.start();
  return informer;
}

/** Starts an informer and waits until it has listed and its watch is open. */
async function watching(opts?: Partial<InformerOptions<FakeObject>>): Promise<Informer<FakeObject>> {
  const watch = fake.next("watch");
  const inf = startInformer(opts);
  await inf.waitForSync(5_000);
  await watch;
  return inf;
}

const key = (name: string) => `${FAKE_NAMESPACE}/${name}`;
const count = (kind: "list" | "watch") => fake.served.filter((s) => s.kind === kind).length;

/** The next emission of `event` (unlike events.once, an "error" event does not reject it). */
function next<K extends keyof InformerEvents<FakeObject>>(
  inf: Informer<FakeObject>,
  event: K,
): Promise<InformerEvents<FakeObject>[K]> {
  return new Promise((resolve) =>
    inf.once(event, ((...args: InformerEvents<FakeObject>[K]) => resolve(args)) as never),
  );
}

/** Names passed to `event` from now on. */
function record(inf: Informer<FakeObject>, event: "add" | "update" | "delete"): string[] {
  const names: string[] = [];
  inf.on(event, (obj: FakeObject) => names.push(obj.metadata.name));
  return names;
}

describe("Informer self-healing (fake apiserver)", () => {
  it("re-lists after 410 Gone and reconciles what it missed: adds and deletes", async () => {
    fake.put("a");
    const inf = await watching();
    const added = record(inf, "add");
    const deleted = record(inf, "delete");
    const gone = fake.next("watch");
    const relisted = next(inf, "synced");
    // While the watch is down, b appears, a goes, and the history is compacted past both.
    fake.dropWatches();
    fake.put("b");
    fake.remove("a");
    fake.compact();
    expect(await gone).toMatchObject({ gone: true });
    await relisted;
    expect(inf.get(key("b"))).toBeDefined();
    expect(inf.get(key("a"))).toBeUndefined();
    expect({ added, deleted }).toEqual({ added: ["b"], deleted: ["a"] });
    expect(count("list")).toBe(2);
  });

  it("resumes a watch cut mid-stream from the last resourceVersion, without a re-list", async () => {
    const a = fake.put("a");
    const inf = await watching();
    const resumed = fake.next("watch");
    const added = next(inf, "add");
    fake.dropWatches();
    fake.put("b");
    expect((await resumed).resourceVersion).toBe(a.metadata.resourceVersion);
    expect((await added)[0].metadata.name).toBe("b");
    expect(count("list")).toBe(1);
  });

  it("takes a BOOKMARK's resourceVersion without emitting anything, and resumes from it", async () => {
    fake.put("a");
    const inf = await watching();
    const changes = [...["add", "update", "delete"].map((e) => record(inf, e as "add"))];
    const resumed = fake.next("watch");
    const bookmark = fake.bookmark();
    fake.endWatches(); // the server's watch timeout: a clean end right after the bookmark
    expect((await resumed).resourceVersion).toBe(bookmark);
    expect(changes).toEqual([[], [], []]);
    expect(inf.size).toBe(1);
    expect(count("list")).toBe(1);
  });

  it("backs off between failing lists, within the cap, then syncs when the server recovers", async () => {
    fake.failLists(6);
    fake.put("a");
    const retries: number[] = [];
    const inf = new Informer<FakeObject>(rest, { path: FAKE_PATH, backoffInitialMs: 10, backoffMaxMs: 40 });
    informer = inf;
    inf.on("error", (err, retryInMs) => {
      expect(err).toMatchObject({ code: "E_KUBE_UNAVAILABLE", status: 500 });
      retries.push(retryInMs);
    });
    inf.start();
    await inf.waitForSync(5_000);
    expect(retries).toHaveLength(6);
    // Doubling from 10 ms, capped at 40 ms, jittered down by at most half.
    retries.forEach((ms, i) => {
      const bound = Math.min(40, 10 * 2 ** i);
      expect(ms).toBeGreaterThanOrEqual(Math.floor(bound / 2));
      expect(ms).toBeLessThanOrEqual(bound);
    });
    expect(inf.get(key("a"))).toBeDefined();
  });

  it("retries at once, not after its long backoff, when the server answers anyone again", async () => {
    await fake.down();
    const inf = new Informer<FakeObject>(rest, {
      path: FAKE_PATH,
      backoffInitialMs: 20_000,
      backoffMaxMs: 60_000,
    });
    informer = inf;
    const refused = next(inf, "error");
    inf.start();
    const [err, retryInMs] = await refused;
    expect(err).toMatchObject({ code: "E_KUBE_UNAVAILABLE" });
    expect(retryInMs).toBeGreaterThanOrEqual(10_000);
    await fake.up();
    const answeredAt = Date.now();
    await rest.request("GET", "/version"); // another request through the same KubeRest gets a 2xx
    await inf.waitForSync(5_000);
    expect(Date.now() - answeredAt).toBeLessThan(2_000);
  });

  it("keeps retrying with no error listener at all", async () => {
    fake.failLists(2);
    const inf = startInformer();
    await inf.waitForSync(5_000);
    expect(count("list")).toBe(3);
  });
});

describe("Informer listener isolation", () => {
  it("a throwing listener neither ends the watch nor costs the other listeners an event", async () => {
    const inf = await watching();
    const thrown: Array<[string, string]> = [];
    inf.on("listenerError", (err, event) => thrown.push([err.message, event]));
    inf.on("add", () => {
      throw new Error("boom");
    });
    const added = record(inf, "add");
    const both = new Promise<void>((resolve) => inf.on("add", () => added.length === 2 && resolve()));
    fake.put("a");
    fake.put("b");
    await both;
    expect(added).toEqual(["a", "b"]);
    expect(thrown).toEqual([
      ["boom", "add"],
      ["boom", "add"],
    ]);
    expect(count("watch")).toBe(1); // the same watch delivered both
    // And later events still arrive on it.
    const updated = next(inf, "update");
    fake.put("a", { changed: true });
    expect((await updated)[0]).toMatchObject({ changed: true });
    expect(count("watch")).toBe(1);
  });

  it("a throwing listener during the list neither stops the sync nor loses objects", async () => {
    fake.put("a");
    fake.put("b");
    const inf = new Informer<FakeObject>(rest, { path: FAKE_PATH });
    informer = inf;
    const thrown: string[] = [];
    inf.on("listenerError", (_err, event) => thrown.push(event));
    inf.on("add", () => {
      throw new Error("boom");
    });
    inf.on("synced", () => {
      throw new Error("boom");
    });
    const added = record(inf, "add");
    inf.start();
    await inf.waitForSync(5_000);
    expect(added.sort()).toEqual(["a", "b"]);
    expect(thrown).toEqual(["add", "add", "synced"]);
    expect(count("list")).toBe(1);
  });

  it("without a listenerError listener the error is a process warning", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const inf = await watching();
      inf.on("add", () => {
        throw new Error("boom");
      });
      const added = next(inf, "add");
      fake.put("a");
      await added;
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ message: "boom" }),
        expect.objectContaining({ code: "DEVREG_INFORMER_LISTENER" }),
      );
    } finally {
      warn.mockRestore();
    }
  });
});
