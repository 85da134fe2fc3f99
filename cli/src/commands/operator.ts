import {
  isOperatorError,
  type OperatorHandle,
  type OperatorOptions,
  optionsFromEnv,
  startOperator,
} from "@devreg/operator";
import type { DevregEnv } from "@devreg/runtime";
import type { Command } from "commander";
import { CliError, UsageError } from "../errors.ts";
import { componentKubeconfigFor, defaultNamespace, givenKubeconfig } from "../kube-connect.ts";
import { untilSignal } from "../until-signal.ts";

interface Flags {
  namespace?: string;
  concurrency?: string;
  httpPort?: string;
  httpHost?: string;
  identity?: string;
  leaseDuration?: string;
  renewDeadline?: string;
  retryPeriod?: string;
  logLevel?: string;
  approvalEvents?: boolean;
}

export function registerOperator(program: Command, env: DevregEnv): void {
  program
    .command("operator")
    .description(
      "run the DeviceRegistration operator until SIGINT/SIGTERM (flags override DEVREG_* env vars)",
    )
    .option(
      "-n, --namespace <namespace>",
      "namespace to watch, of the pairing ConfigMap and the Lease (env DEVREG_NAMESPACE; default device-operator-system)",
    )
    .option(
      "--concurrency <n>",
      "registrations reconciled at once (env DEVREG_OPERATOR_CONCURRENCY; default 16)",
    )
    .option(
      "--http-port <port>",
      "port of /healthz, /readyz, /metrics; 0 = any free port (env DEVREG_OPERATOR_HTTP_PORT; default 8080)",
    )
    .option("--http-host <host>", "address to bind the HTTP server to (default 0.0.0.0)")
    .option(
      "--identity <id>",
      "this replica's name in the Lease and Events (env DEVREG_OPERATOR_IDENTITY or POD_NAME; default hostname_uuid)",
    )
    .option("--lease-duration <duration>", "leader lease duration (env DEVREG_LEASE_DURATION; default 15s)")
    .option(
      "--renew-deadline <duration>",
      "leader gives up if not renewed in this long (env DEVREG_RENEW_DEADLINE; default 10s)",
    )
    .option(
      "--retry-period <duration>",
      "interval between lease attempts (env DEVREG_RETRY_PERIOD; default 2s)",
    )
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace, silent (env DEVREG_LOG_LEVEL; default info)",
    )
    .option(
      "--approval-events",
      "also record an Event per approval; off by default, since a fleet enrolling makes thousands (env DEVREG_APPROVAL_EVENTS=true)",
    )
    .action(async (f: Flags, cmd: Command) => {
      const flags: Record<string, string | undefined> = {
        namespace: f.namespace,
        concurrency: f.concurrency,
        httpPort: f.httpPort,
        httpHost: f.httpHost,
        identity: f.identity,
        leaseDurationMs: f.leaseDuration,
        renewDeadlineMs: f.renewDeadline,
        retryPeriodMs: f.retryPeriod,
        logLevel: f.logLevel,
        approvalEvents: f.approvalEvents ? "true" : undefined,
      };
      const options: Record<string, unknown> = { ...optionsFromEnv(env) };
      for (const [k, v] of Object.entries(flags)) if (v !== undefined) options[k] = v;
      const namespace = typeof options.namespace === "string" ? options.namespace : defaultNamespace(env);
      const componentKc = await componentKubeconfigFor(givenKubeconfig(cmd, env), "operator", namespace);
      if (componentKc) options.kubeconfig = componentKc;

      let handle: OperatorHandle;
      try {
        handle = await startOperator(options as OperatorOptions);
      } catch (e) {
        if (isOperatorError(e))
          throw e.code === "E_CONFIG" ? new UsageError(e.message) : new CliError(e.message);
        throw e;
      }
      await untilSignal("the operator", () => handle.stop());
    });
}
