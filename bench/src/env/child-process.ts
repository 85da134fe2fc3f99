import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { sleep } from "@devreg/runtime";
import { BenchError } from "../errors.ts";

export interface ChildSpec<T> {
  /** For messages: "gateway", "operator". */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Every output line is offered here; the first non-undefined result means "ready". */
  ready: (line: string) => T | undefined;
  timeoutMs: number;
  /**
   * The child writes stdout and stderr straight to this file: piping through the bench
   * would charge the child's per-request logging to the bench's CPU.
   */
  logFile: string;
}

/** A component running as its own process, so its RSS and CPU are its own. */
export class Child {
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readonly logFile: string,
  ) {
    this.exitedPromise = new Promise((resolve) => {
      proc.once("exit", () => {
        this.exited = true;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }
}

/** Spawns `spec.command` and resolves once a line of its output says it is ready. */
export async function startChild<T>(spec: ChildSpec<T>): Promise<{ child: Child; info: T }> {
  // A restarted component appends to its predecessor's log: only this incarnation's lines may
  // say "ready" (an old "caches synced" or "serving" line would mark it ready before it even ran).
  const from = existsSync(spec.logFile) ? statSync(spec.logFile).size : 0;
  const fd = openSync(spec.logFile, "a");
  const proc = spawn(spec.command, spec.args, { env: spec.env ?? process.env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const child = new Child(spec.name, proc, spec.logFile);
  let spawnError: Error | undefined;
  proc.once("error", (e) => {
    spawnError = e;
  });
  const deadline = Date.now() + spec.timeoutMs;
  const lines = () => readFileSync(spec.logFile).subarray(from).toString("utf8").split("\n");
  const tail = () => lines().slice(-6).join(" | ").slice(0, 600);
  let scanned = 0;
  while (Date.now() < deadline) {
    const all = lines();
    // The last element may be a partial line: only complete lines are offered.
    for (; scanned < all.length - 1; scanned++) {
      let info: T | undefined;
      try {
        info = spec.ready(all[scanned]!);
      } catch {
        info = undefined;
      }
      if (info !== undefined) return { child, info };
    }
    if (spawnError) throw new BenchError("E_CHILD_START", `cannot start ${spec.name}: ${spawnError.message}`);
    if (!child.alive) {
      throw new BenchError(
        "E_CHILD_DIED",
        `${spec.name} exited before it was ready: ${tail()} (log: ${spec.logFile})`,
      );
    }
    await sleep(100);
  }
  await child.stop(1000);
  throw new BenchError(
    "E_CHILD_START",
    `${spec.name} not ready in ${spec.timeoutMs} ms: ${tail()} (log: ${spec.logFile})`,
  );
}
