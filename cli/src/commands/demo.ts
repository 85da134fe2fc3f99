import { join } from "node:path";
import { Fleet, type FleetSummary, VirtualMcu, createIdentity, tweetnaclCrypto } from "@devreg/firmware-sim";
import { type GatewayHandle, startGateway } from "@devreg/gateway-mqtt";
import {
  DEFAULT_NAMESPACE,
  KubeRest,
  clusterStatus,
  clusterUp,
  clusterDown,
  ensureNamespace,
  installCrds,
  localStateDir,
  resolveKubeConfig,
} from "@devreg/kube";
import { type OperatorHandle, setPairing, startOperator } from "@devreg/operator";
import type { DevregEnv } from "@devreg/runtime";
import type { Command } from "commander";
import { CliError } from "../errors.ts";
import { componentKubeconfigFor, givenKubeconfig } from "../kube-connect.ts";
import { parsePositiveInt, parsePositiveNumber, port } from "../options.ts";
import { StatusLine, printJson, progress } from "../output.ts";
import { untilSignal } from "../until-signal.ts";
import { progressLine, summaryTable } from "./sim-output.ts";

interface DemoFlags {
  devices: string;
  rate: string;
  namespace: string;
  mqttPort: number;
  httpPort: number;
  keep?: boolean;
  json?: boolean;
}

/**
 * The main job: the whole system on the embedded default, end to end, in a few minutes.
 * control plane → CRD → operator + gateway → pairing window → fleet → window closed →
 * a late device is rejected → clean shutdown (or --keep).
 */
export function registerDemo(program: Command, env: DevregEnv): void {
  program
    .command("demo")
    .description(
      "run the whole system locally: control plane, operator, gateway, and a fleet of virtual MCUs",
    )
    .option("--devices <n>", "virtual MCUs in the fleet", "1000")
    .option("--rate <r>", "devices booted per second", "200")
    .option("--namespace <ns>", "namespace", DEFAULT_NAMESPACE)
    .option(
      "--mqtt-port <port>",
      "gateway MQTT port on 127.0.0.1 (0 = any free port)",
      port("--mqtt-port"),
      0,
    )
    .option(
      "--http-port <port>",
      "gateway HTTP POST /enroll port on 127.0.0.1 (0 = any free port)",
      port("--http-port"),
      0,
    )
    .option("--keep", "keep everything running after the demo, until Ctrl-C, to try kubectl and the CLI")
    .option("--json", "print the fleet summary as JSON on stdout")
    .action(async (flags: DemoFlags, cmd: Command) => {
      const devices = parsePositiveInt(flags.devices, "--devices");
      const rate = parsePositiveNumber(flags.rate, "--rate");
      const say = (l: string) => progress(`[demo] ${l}`);
      const t0 = Date.now();

      // 1. A cluster: the one named by --kubeconfig/$KUBECONFIG, else the local control plane.
      let startedCluster = false;
      const given = givenKubeconfig(cmd, env);
      let kubeconfig = given;
      if (!kubeconfig) {
        const st = await clusterStatus();
        if (st.ready && st.state) {
          say(`using the running local control plane at ${st.state.server}`);
          kubeconfig = st.state.kubeconfig;
        } else {
          say("starting the local control plane (etcd + kube-apiserver with RBAC)");
          const up = await clusterUp({ log: (l) => say(l) });
          startedCluster = true;
          kubeconfig = up.kubeconfig;
          say(`control plane ready at ${up.server}`);
        }
      }
      const { kc, origin } = resolveKubeConfig(kubeconfig);
      const rest = await KubeRest.fromKubeConfig(kc);
      let operator: OperatorHandle | undefined;
      let gateway: GatewayHandle | undefined;
      let fleet: Fleet | undefined;
      let ok = false;
      const shutdown = async () => {
        await fleet?.stop().catch(() => {});
        await gateway?.stop().catch(() => {});
        await operator?.stop().catch(() => {});
        rest.close();
        if (startedCluster) {
          say("stopping the local control plane");
          await clusterDown();
        }
      };
      try {
        // 2. The API and the namespace, with pairing closed (the safe default).
        await installCrds(rest);
        await ensureNamespace(rest, flags.namespace);
        await setPairing(rest, flags.namespace, { enabled: false, fieldManager: "devreg-demo" });
        say(`CRD installed; namespace ${flags.namespace}; pairing closed (cluster: ${origin})`);

        // 3. Operator and gateway, in this process; on the local control plane each with its
        // own ServiceAccount's token, bound by deploy/'s RBAC (never the admin's credential).
        const operatorKubeconfig = await componentKubeconfigFor(
          given,
          "operator",
          flags.namespace,
          kubeconfig,
        );
        const gatewayKubeconfig = await componentKubeconfigFor(given, "gateway", flags.namespace, kubeconfig);
        operator = await startOperator({
          kubeconfig: operatorKubeconfig,
          namespace: flags.namespace,
          httpPort: 0,
          httpHost: "127.0.0.1",
          logLevel: "warn",
        });
        gateway = await startGateway(
          {
            kubeconfig: gatewayKubeconfig,
            namespace: flags.namespace,
            gatewayId: "demo-gateway",
            mqtt: { host: "127.0.0.1", port: flags.mqttPort },
            http: { host: "127.0.0.1", port: flags.httpPort },
            admin: { host: "127.0.0.1", port: 0 },
            keyFile: join(localStateDir(), "..", "demo-gateway-key.pem"),
            logLevel: "warn",
          },
          env,
        );
        const mqttUrl = `mqtt://127.0.0.1:${gateway.mqttPort}`;
        const gatewayKeyB64 = Buffer.from(gateway.publicKey).toString("base64");
        say(`operator running (metrics http://127.0.0.1:${operator.httpPort}/metrics)`);
        say(
          `gateway: ${mqttUrl}, HTTP POST http://127.0.0.1:${gateway.httpPort}/enroll, key ${gatewayKeyB64}`,
        );

        // 4. A pairing window, which closes itself.
        await setPairing(rest, flags.namespace, {
          enabled: true,
          forSeconds: 600,
          fieldManager: "devreg-demo",
        });
        say("pairing window open for 10m");

        // 5. The fleet.
        say(`enrolling ${devices} virtual MCUs at ${rate}/s over MQTT`);
        const status = new StatusLine();
        fleet = new Fleet({
          count: devices,
          rate,
          mqttUrl,
          gatewayPublicKey: gateway.publicKey,
          crypto: "node",
          progressIntervalMs: status.intervalMs,
        });
        fleet.on("progress", (p) => status.update(progressLine(p)));
        const summary: FleetSummary = await fleet.run();
        status.end(true);
        fleet = undefined;
        if (flags.json) printJson(summary);
        else process.stdout.write(`${summaryTable(summary)}\n`);

        // 6. Close the window: a device that comes later is rejected.
        await setPairing(rest, flags.namespace, { enabled: false, fieldManager: "devreg-demo" });
        say("pairing window closed; booting one more device");
        const late = new VirtualMcu({
          mqttUrl,
          gatewayPublicKey: gateway.publicKey,
          identity: createIdentity(tweetnaclCrypto),
          crypto: "tweetnacl",
          stayConnected: false,
          deadlineMs: 30_000,
        });
        const lateOutcome = await late.start();
        await late.stop();
        say(
          `late device ${lateOutcome.deviceId}: ${lateOutcome.phase}${lateOutcome.reason ? ` (${lateOutcome.reason})` : ""}`,
        );

        ok = summary.outcomes.enrolled === devices && lateOutcome.phase === "rejected";
        say(`${ok ? "done" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

        if (flags.keep) {
          say("still running (Ctrl-C stops everything). Try:");
          say(`  export KUBECONFIG=${kc.getCurrentCluster() ? (kubeconfig ?? "") : ""}`);
          say(`  kubectl -n ${flags.namespace} get devreg | head`);
          say(`  ./bin/devreg devices list --namespace ${flags.namespace} --phase Rejected`);
          say(`  ./bin/devreg pairing on --for 5m --namespace ${flags.namespace}`);
          say(`  ./bin/devreg sim --count 10 --mqtt ${mqttUrl} --gateway-key ${gatewayKeyB64}`);
          // Everything is stopped by the shutdown below.
          await untilSignal("the demo", async () => {});
        }
      } finally {
        await shutdown();
      }
      if (!ok) throw new CliError("the demo did not end as expected (see the summary above)");
    });
}
