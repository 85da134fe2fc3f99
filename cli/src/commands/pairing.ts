import type { Command } from "commander";
import { OPERATOR_LEASE, PAIRING_CONFIGMAP, isKubeError, type KubeRest, leasePath } from "@devreg/kube";
import { type PairingReadout, compileSelector, readPairing, setPairing } from "@devreg/operator";
import { type DevregEnv, formatDuration } from "@devreg/runtime";
import { UsageError } from "../errors.ts";
import { defaultNamespace, withConnection } from "../kube-connect.ts";
import { parseDurationMs } from "../options.ts";
import { printJson } from "../output.ts";

interface Opts {
  namespace: string;
  json?: boolean;
}

export function registerPairing(program: Command, env: DevregEnv): void {
  const pairing = program
    .command("pairing")
    .description(`open or close the pairing window (ConfigMap ${PAIRING_CONFIGMAP}; see operator/README.md)`);

  const common = (c: Command) =>
    c
      .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace(env))
      .option("--json", "machine-readable output");

  common(
    pairing
      .command("on")
      .description("open the pairing window: new devices get approved until it closes")
      .option("--for <duration>", "how long the window stays open (e.g. 90s, 10m, 1h)", "10m")
      .option("--forever", "no expiry: open until `devreg pairing off`")
      .option(
        "--max-devices <n>",
        "the window closes after this many approvals (exact, across operator replicas)",
      )
      .option(
        "--selector <cel>",
        "only devices matching this CEL expression over model, firmwareVersion, hardwareRevision, serialNumber, deviceId",
      )
      .option("--manual", "manual mode: each new device stays pending until `devreg devices approve|deny`"),
  ).action(
    async (
      o: Opts & { for: string; forever?: boolean; maxDevices?: string; selector?: string; manual?: boolean },
      cmd: Command,
    ) => {
      let maxDevices: number | undefined;
      if (o.maxDevices !== undefined) {
        if (!/^[1-9]\d{0,8}$/.test(o.maxDevices))
          throw new UsageError("--max-devices: want a positive integer");
        maxDevices = Number(o.maxDevices);
      }
      if (o.manual && (maxDevices !== undefined || o.selector !== undefined)) {
        throw new UsageError(
          "--manual: an admin decides each device; --max-devices and --selector apply to auto windows",
        );
      }
      if (o.selector !== undefined) {
        const compiled = compileSelector(o.selector);
        if (!compiled.ok) throw new UsageError(`--selector: ${compiled.error}`);
      }
      let forSeconds: number | undefined;
      if (!o.forever) {
        const ms = parseDurationMs(o.for, "--for");
        if (ms < 1000) throw new UsageError("--for: the window must stay open at least 1s");
        forSeconds = ms / 1000;
      }
      await withConnection(cmd, env, async ({ rest, namespace }) => {
        const r = await setPairing(rest, namespace, {
          enabled: true,
          forSeconds,
          maxDevices,
          selector: o.selector,
          mode: o.manual ? "manual" : "auto",
          fieldManager: "devreg-cli",
        });
        await report(rest, namespace, r, o.json);
      });
    },
  );

  common(pairing.command("off").description("close the pairing window now")).action(
    async (o: Opts, cmd: Command) => {
      await withConnection(cmd, env, async ({ rest, namespace }) => {
        const r = await setPairing(rest, namespace, { enabled: false, fieldManager: "devreg-cli" });
        await report(rest, namespace, r, o.json);
      });
    },
  );

  common(
    pairing.command("status").description("is pairing open, until when, approvals used and left, selector"),
  ).action(async (o: Opts, cmd: Command) => {
    await withConnection(cmd, env, async ({ rest, namespace }) => {
      await report(rest, namespace, await readPairing(rest, namespace), o.json);
    });
  });
}

interface LeaseView {
  holder?: string;
  renewedSecondsAgo?: number;
}

/** Who runs the operator (its Lease), so "pairing on" with no operator running does not go unnoticed. */
async function operatorLease(rest: KubeRest, namespace: string): Promise<LeaseView | undefined> {
  try {
    const l = await rest.request<{
      spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
    }>(
      "GET",
      leasePath(namespace, OPERATOR_LEASE),
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

async function report(
  rest: KubeRest,
  namespace: string,
  r: PairingReadout,
  json: boolean | undefined,
): Promise<void> {
  const { state } = r;
  const now = Date.now();
  const secondsLeft =
    state.open && state.expiresAt ? Math.max(0, Math.floor((state.expiresAt.getTime() - now) / 1000)) : null;
  const lease = await operatorLease(rest, namespace);
  const win = state.window;
  const approvalsLeft =
    win?.maxDevices === undefined ? null : Math.max(0, win.maxDevices - win.approvalsUsed);
  if (json) {
    printJson({
      namespace,
      open: state.open,
      code: state.code,
      reason: state.reason,
      enabled: r.configMap?.data?.enabled ?? null,
      expiresAt: state.expiresAt?.toISOString() ?? null,
      secondsLeft,
      mode: win?.mode ?? null,
      windowId: win?.id ?? null,
      maxDevices: win?.maxDevices ?? null,
      approvalsUsed: win?.approvalsUsed ?? null,
      approvalsLeft,
      selector: win?.selector ?? null,
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
  if (win) {
    if (win.id) console.log(`  window:    ${win.id} (${win.mode} mode)`);
    if (state.expiresAt) console.log(`  deadline:  ${state.expiresAt.toISOString()}`);
    if (win.maxDevices !== undefined)
      console.log(`  approvals: ${win.approvalsUsed} used, ${approvalsLeft} left of ${win.maxDevices}`);
    if (win.selector !== undefined) console.log(`  selector:  ${win.selector}`);
  }
  if (lease && !lease.holder) {
    process.stderr.write(
      `note: no operator is running in ${namespace} (no live devreg-operator lease); nothing gets decided\n`,
    );
  }
}
