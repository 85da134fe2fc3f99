import net from "node:net";
import { describe, expect, it, vi } from "vitest";
import { closeServer, listen } from "./listeners.ts";

describe("listen", () => {
  it("passes the accept-queue length to the kernel, and names what failed to bind", async () => {
    const server = net.createServer();
    const spy = vi.spyOn(server, "listen");
    const port = await listen(server, 0, "127.0.0.1", "MQTT", 8_192);
    expect(port).toBeGreaterThan(0);
    expect(spy.mock.calls[0]?.[0]).toMatchObject({ port: 0, host: "127.0.0.1", backlog: 8_192 });
    const other = net.createServer();
    await expect(listen(other, port, "127.0.0.1", "MQTT")).rejects.toMatchObject({
      code: "E_GW_LISTEN",
      message: expect.stringContaining("MQTT cannot listen"),
    });
    await closeServer(server);
  });
});
