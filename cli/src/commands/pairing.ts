import type { Command } from "commander";
import { PAIRING_CONFIGMAP, isKubeError, type KubeRest } from "@devreg/kube";
import { type PairingReadout, formatDuration, parseDuration, readPairing, setPairing } from "@devreg/operator";
import { CliError } from "../errors.ts";
import { defaultNamespace, withConnection } from "../kube-connect.ts";
import { printJson } from "../output.ts";

interface Opts {
  namespace: string;
  json?: boolean;
}

export function registerPairing(program: Command): void {
  const pairing = program
    .command("pairing")
    .description(`open or close the pairing window (ConfigMap ${PAIRING_CONFIGMAP}; see operator/README.md)`);

  const common = (c: Command) =>
    c
      .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace())
      .option("--json", "machine-readable output");

  common(
    pairing
      .command("on")
      .description("open the pairing window: new devices get approved until it closes")
      .option("--for <duration>", "how long the window stays open (e.g. 90s, 10m, 1h)", "10m")
      .option("--forever", "no expiry: open until `devreg pairing off`"),
  ).action(async (o: Opts & { for: string; forever?: boolean }, cmd: Command) => {
    let forSeconds: number | undefined;
    if (!o.forever) {
      let ms: number;
      try {
        ms = parseDuration(o.for);
      } catch (e) {
        throw new CliError(`--for: ${(e as Error).message}`, 2);
      }
      if (ms < 1000) throw new CliError("--for: the window must stay open at least 1s", 2);
      forSeconds = ms / 1000;
    }
    await withConnection(cmd, async ({ rest, namespace }) => {
      const r = await setPairing(rest, namespace, { enabled: true, forSeconds, fieldManager: "devreg-cli" });
      await report(rest, namespace, r, o.json);
    });
  });

  common(pairing.command("off").description("close the pairing window now")).action(async (o: Opts, cmd: Command) => {
    await withConnection(cmd, async ({ rest, namespace }) => {
      const r = await setPairing(rest, namespace, { enabled: false, fieldManager: "devreg-cli" });
      await report(rest, namespace, r, o.json);
    });
  });

  common(pairing.command("status").description("is pairing open, and for how long")).action(
    async (o: Opts, cmd: Command) => {
      await withConnection(cmd, async ({ rest, namespace }) => {
        await report(rest, namespace, await readPairing(rest, namespace), o.json);
      });
    },
  );
}

interface LeaseView {
  holder?: string;
  renewedSecondsAgo?: number;
}

/** Who runs the operator (its Lease), so "pairing on" with no operator running does not go unnoticed. */
async function operatorLease(rest: KubeRest, namespace: string): Promise<LeaseView | undefined> {
  try {
    const l = await rest.request<{ spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/devreg-operator`,
    );
    const renewed = l.spec.renewTime ? Date.parse(l.spec.renewTime) : Number.NaN;
    const ago = Number.isNaN(renewed) ? undefined : Math.max(0, Math.round((Date.now() - renewed) / 1000));
    const live = l.spec.holderIdentity && ago !== undefined && ago <= (l.spec.leaseDurationSeconds ?? 15);
    return live ? { holder: l.spec.holderIdentity, renewedSecondsAgo: ago } : {};
  } catch (e) {
    if (isKubeError(e, "E_KUBE_NOT_FOUND")) return {};
    return undefined; // e.g. no RBAC to read leases: say nothing
  }
}

async function report(rest: KubeRest, namespace: string, r: PairingReadout, json: boolean | undefined): Promise<void> {
  const { state } = r;
  const now = Date.now();
  const secondsLeft = state.open && state.expiresAt ? Math.max(0, Math.floor((state.expiresAt.getTime() - now) / 1000)) : null;
  const lease = await operatorLease(rest, namespace);
  if (json) {
    printJson({
      namespace,
      open: state.open,
      code: state.code,
      reason: state.reason,
      enabled: r.configMap?.data?.enabled ?? null,
      expiresAt: state.expiresAt?.toISOString() ?? null,
      secondsLeft,
      operator: lease ? (lease.holder ?? null) : undefined,
    });
    return;
  }
  if (state.open) {
    const left = state.expiresAt
      ? `${formatDuration(state.expiresAt.getTime() - now)} left (until ${state.expiresAt.toISOString()})`
      : "no expiry (until `devreg pairing off`)";
    console.log(`pairing is OPEN in ${namespace}: ${left}`);
  } else {
    console.log(`pairing is CLOSED in ${namespace}: ${state.reason}`);
  }
  if (lease && !lease.holder) {
    process.stderr.write(`note: no operator is running in ${namespace} (no live devreg-operator lease); nothing gets decided\n`);
  }
}
