import { randomBytes } from "node:crypto";
import http from "node:http";
import { BenchError } from "../errors.ts";

export interface PollingAnswer {
  status: number;
  deviceUUID?: string;
}

/** An MCU of the original design: POST {publicKey} to /enroll and wait for the answer. */
export class PollingDeviceClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    maxSockets: number,
    private readonly timeoutMs = 60_000,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** Enrolls a fresh dummy key (as the original MCU did); resolves with the latency in ms. */
  async enroll(): Promise<{ latencyMs: number; answer: PollingAnswer }> {
    const body = JSON.stringify({ publicKey: randomBytes(32).toString("base64") });
    const t0 = performance.now();
    const answer = await new Promise<PollingAnswer>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          path: "/enroll",
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { deviceUUID?: string };
              resolve({ status: res.statusCode ?? 0, deviceUUID: parsed.deviceUUID });
            } catch {
              reject(
                new BenchError("E_PHASE_FAILED", `polling gateway answered ${res.statusCode} with non-JSON`),
              );
            }
          });
        },
      );
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new BenchError("E_TIMEOUT", "polling gateway did not answer")),
      );
      req.on("error", reject);
      req.end(body);
    });
    return { latencyMs: performance.now() - t0, answer };
  }

  close(): void {
    this.agent.destroy();
  }
}
