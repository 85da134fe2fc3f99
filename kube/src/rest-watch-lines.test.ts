import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { plainHttpClient } from "../test-support/fake-apiserver.ts";

// The watch stream is split into lines on bytes: events cut at any byte (inside a multi-byte
// character too) or several to a chunk come out whole and in order.
describe("KubeRest.watch line splitting", () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  async function watchChunks(chunks: Buffer[]): Promise<{ names: string[]; error?: string }> {
    server = http.createServer(async (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      for (const c of chunks) {
        res.write(c);
        await new Promise((r) => setTimeout(r, 2));
      }
      res.end();
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const rest = await plainHttpClient(`http://127.0.0.1:${port}`);
    const names: string[] = [];
    try {
      await rest.watch<{ metadata: { name: string } }>("/w", {}, (ev) => names.push(ev.object.metadata.name));
      return { names };
    } catch (e) {
      return { names, error: (e as Error).message };
    } finally {
      rest.close();
    }
  }

  const line = (name: string) => `${JSON.stringify({ type: "ADDED", object: { metadata: { name } } })}\n`;

  it("reassembles events cut at every byte, multi-byte characters included", async () => {
    const bytes = Buffer.from(line("dev-é1") + "\n" + line("dev-ü2") + line("dev-3"));
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(await watchChunks(chunks)).toEqual({ names: ["dev-é1", "dev-ü2", "dev-3"] });
  });

  it("takes several events in one chunk, and a last event without a newline is not emitted", async () => {
    const r = await watchChunks([Buffer.from(line("a") + line("b") + line("c").trimEnd())]);
    expect(r.names).toEqual(["a", "b"]);
  });

  it("fails on a malformed line", async () => {
    const r = await watchChunks([Buffer.from(`${line("a")}{not json\n${line("b")}`)]);
    expect(r.names).toEqual(["a"]);
    expect(r.error).toMatch(/malformed event line/);
  });
});
