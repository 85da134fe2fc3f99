import { resolveKubeConfig } from "@devreg/kube";
import type { DevregEnv } from "@devreg/runtime";
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { defaultNamespace, kubeconfigFlag } from "../kube-connect.ts";
import { port } from "../options.ts";
import { untilSignal } from "../until-signal.ts";

interface Flags {
  port: number;
  host: string;
  namespace: string;
  gatewayUrl?: string;
  operatorUrl?: string;
  login: string;
  apiServer?: string;
  apiCaFile?: string;
  publicOrigin?: string;
}

function httpUrl(option: string): (v: string) => string {
  return (v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new UsageError(`${option} must be a URL like http://127.0.0.1:9090, not ${v}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`${option} must be http(s)`);
    return u.toString();
  };
}

/** `devreg dashboard`: the web console (dashboard/README.md), in the foreground until SIGINT/SIGTERM. */
export function registerDashboard(program: Command, env: DevregEnv): void {
  program
    .command("dashboard")
    .description("web console: pairing window, live devices, live enrollment; prints a one-time sign-in URL")
    .option("--port <port>", "HTTP port (0 = any free port)", port("--port"), 8090)
    .option(
      "--host <address>",
      "address to listen on (keep 127.0.0.1 unless behind an authenticating proxy)",
      "127.0.0.1",
    )
    .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace(env))
    .option(
      "--gateway-url <url>",
      "the gateway's admin port, for /metrics and /readyz",
      httpUrl("--gateway-url"),
      "http://127.0.0.1:9090",
    )
    .option(
      "--operator-url <url>",
      "the operator's probe port, for /metrics and /readyz",
      httpUrl("--operator-url"),
    )
    .option(
      "--login <mode>",
      "link: act with this kubeconfig's credential, sign in with the printed one-time link; bearer: users sign in with their own token (in-cluster)",
      "link",
    )
    .option(
      "--api-server <url>",
      "bearer mode: the API server (default: in-cluster https://kubernetes.default.svc)",
    )
    .option("--api-ca-file <path>", "bearer mode: CA bundle of the API server")
    .option(
      "--public-origin <url>",
      "the origin users reach the dashboard at, when not on loopback (e.g. https://devreg.example.com)",
    )
    .action(async (f: Flags, cmd: Command) => {
      if (f.login !== "link" && f.login !== "bearer") throw new UsageError("--login must be link or bearer");
      const { startDashboard, ensureBuilt } = await import("@devreg/dashboard");
      let credential: import("@devreg/dashboard").CredentialSource;
      if (f.login === "link") {
        credential = { kind: "kubeconfig", kc: resolveKubeConfig(kubeconfigFlag(cmd), env.kubeconfig).kc };
      } else {
        const host = process.env.KUBERNETES_SERVICE_HOST;
        const server =
          f.apiServer ??
          (host
            ? `https://${host.includes(":") ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? "443"}`
            : undefined);
        if (!server) throw new UsageError("--login bearer needs --api-server (or to run in-cluster)");
        credential = { kind: "bearer", server, caFile: f.apiCaFile };
      }
      await ensureBuilt();
      const dash = await startDashboard({
        credential,
        namespace: f.namespace,
        host: f.host,
        port: f.port,
        metrics: { gateway: f.gatewayUrl, operator: f.operatorUrl },
        publicOrigin: f.publicOrigin,
        secureCookie: f.publicOrigin?.startsWith("https:") ?? false,
        logLevel: env.logLevel,
      });
      console.log(
        credential.kind === "kubeconfig"
          ? `devreg dashboard for namespace ${f.namespace}; open this link (it signs you in once, with this kubeconfig's credential):\n\n    ${dash.loginUrl}\n`
          : `devreg dashboard for namespace ${f.namespace} at ${dash.url}; users sign in with their own bearer token`,
      );
      await untilSignal("the dashboard", () => dash.close());
    });
}
