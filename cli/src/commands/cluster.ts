import type { Command } from "commander";
import { clusterDown, clusterStatus, clusterUp, localStateDir } from "@devreg/kube";
import { parseDurationMs } from "../options.ts";
import { printJson, progress } from "../output.ts";

export function registerCluster(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("run a real single-node control plane (etcd + kube-apiserver, TLS, RBAC) on loopback");

  cluster
    .command("up")
    .description("start the local control plane; builds kube-apiserver once per machine")
    .option("--state-dir <dir>", "state directory", localStateDir())
    .option("--no-build", "fail instead of building kube-apiserver when it is not cached")
    .option("--ready-timeout <duration>", "readiness bound per process (e.g. 60s, 2m; bare seconds)", "60s")
    .option("--profiling", "serve kube-apiserver's /debug/pprof to the admin (for profiling under load)")
    .action(async (o: { stateDir: string; build: boolean; readyTimeout: string; profiling?: boolean }) => {
      const t0 = Date.now();
      const st = await clusterUp({
        stateDir: o.stateDir,
        build: o.build,
        readyTimeoutMs: parseDurationMs(o.readyTimeout, "--ready-timeout"),
        profiling: o.profiling === true,
        log: progress,
      });
      console.log(`cluster ready at ${st.server} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      console.log(`export KUBECONFIG=${st.kubeconfig}`);
    });

  cluster
    .command("down")
    .description("stop the local control plane and delete its state")
    .option("--state-dir <dir>", "state directory", localStateDir())
    .action(async (o: { stateDir: string }) => {
      const r = await clusterDown({ stateDir: o.stateDir });
      console.log(r.stopped ? "cluster stopped" : "cluster was not running");
    });

  cluster
    .command("status")
    .description("show whether the local control plane runs and is ready")
    .option("--state-dir <dir>", "state directory", localStateDir())
    .option("--json", "machine-readable output")
    .action(async (o: { stateDir: string; json?: boolean }) => {
      const s = await clusterStatus({ stateDir: o.stateDir });
      if (o.json)
        printJson({
          running: s.running,
          ready: s.ready,
          server: s.state?.server,
          kubeconfig: s.state?.kubeconfig,
          detail: s.detail,
        });
      else console.log(s.detail);
      if (!s.ready) process.exitCode = 1;
    });

  cluster
    .command("env")
    .description("print the shell line that points kubectl at the local control plane")
    .option("--state-dir <dir>", "state directory", localStateDir())
    .action(async (o: { stateDir: string }) => {
      const s = await clusterStatus({ stateDir: o.stateDir });
      if (!s.state)
        throw new Error(
          `local control plane is not running (state: ${o.stateDir}); run \`devreg cluster up\``,
        );
      console.log(`export KUBECONFIG=${s.state.kubeconfig}`);
    });
}
