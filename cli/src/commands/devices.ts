import type { Command } from "commander";
import {
  ALLOWANCE_KIND,
  API_VERSION,
  type DeviceAllowance,
  type DeviceRegistration,
  type Phase,
  Registrations,
  allowancesPath,
  hasObserved,
  isKubeError,
  phaseOf,
} from "@devreg/kube";
import { deviceIdFromPublicKey } from "@devreg/protocol";
import { type DevregEnv, formatDuration, sleep } from "@devreg/runtime";
import { CliError, UsageError } from "../errors.ts";
import { defaultNamespace, withConnection } from "../kube-connect.ts";
import { parseDurationMs } from "../options.ts";
import { formatTable, printJson } from "../output.ts";

const PHASES: Phase[] = ["Pending", "Approved", "Rejected", "Deactivated"];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ListOpts {
  namespace: string;
  phase?: string;
  json?: boolean;
}

interface ChangeOpts {
  namespace: string;
  wait: boolean;
  timeout: string;
  json?: boolean;
}

export function registerDevices(program: Command, env: DevregEnv): void {
  const devices = program.command("devices").description("list, deactivate and reactivate enrolled devices");

  devices
    .command("list")
    .description("list device registrations")
    .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace(env))
    .option("--phase <phase>", `only this phase (${PHASES.join(", ")})`)
    .option("--json", "machine-readable output")
    .action(async (o: ListOpts, cmd: Command) => {
      const phase = o.phase === undefined ? undefined : normalizePhase(o.phase);
      await withConnection(cmd, env, async ({ rest, namespace }) => {
        const items = await new Registrations(rest, namespace).listAll();
        const rows = items
          .filter((r) => phase === undefined || phaseOf(r) === phase)
          .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
        if (o.json) {
          printJson(rows.map(view));
          return;
        }
        if (rows.length === 0) {
          console.log(`no registrations${phase ? ` in phase ${phase}` : ""} in ${namespace}`);
          return;
        }
        const table = [
          ["NAME", "PHASE", "UUID", "DEVICE", "MODEL", "REASON", "AGE"],
          ...rows.map((r) => {
            const v = view(r);
            return [
              v.name,
              v.phase,
              v.deviceUUID ?? "-",
              v.deviceId ?? "-",
              v.model ?? "-",
              v.reason ?? "-",
              age(v.createdAt),
            ];
          }),
        ];
        // kubectl's look: three spaces between columns.
        console.log(formatTable(table, { gap: 3 }));
      });
    });

  type Verb = "deactivate" | "reactivate" | "approve" | "deny";
  /** The spec field each verb sets (the operator acts on it; managedFields say who). */
  const SPEC: Record<Verb, Record<string, unknown>> = {
    deactivate: { deactivate: true },
    reactivate: { deactivate: false },
    approve: { approval: "Approve" },
    deny: { approval: "Deny" },
  };
  const change = (verb: Verb, description: string) =>
    devices
      .command(`${verb} <uuid-or-name>`)
      .description(description)
      .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace(env))
      .option("--no-wait", "return once the spec is set, without waiting for the operator")
      .option("--timeout <duration>", "how long to wait for the operator", "30s")
      .option("--json", "machine-readable output")
      .action(async (target: string, o: ChangeOpts, cmd: Command) => {
        const timeoutMs = parseDurationMs(o.timeout, "--timeout");
        await withConnection(cmd, env, async ({ rest, namespace }) => {
          const regs = new Registrations(rest, namespace);
          const reg = await find(regs, target);
          // Recorded in managedFields; the operator puts it in status.decidedBy ("admin:devreg-cli").
          const updated = await regs.patch(reg.metadata.name, { spec: SPEC[verb] }, { fieldManager: "devreg-cli" });
          let result = updated;
          if (o.wait) result = await waitForOperator(regs, updated, timeoutMs, verb);
          if (o.json) {
            printJson(view(result));
            return;
          }
          const v = view(result);
          console.log(
            o.wait
              ? `${v.name}: ${v.phase}${v.deviceUUID ? ` (UUID ${v.deviceUUID})` : ""}${v.reason ? `, ${v.reason}` : ""}`
              : `${v.name}: spec ${JSON.stringify(SPEC[verb])} set; the operator will act on it`,
          );
        });
      });

  change("deactivate", "deactivate a device: it keeps its UUID but is refused until reactivated");
  change("reactivate", "reactivate a deactivated device: Approved again with the same UUID");
  change(
    "approve",
    "approve a pending registration (manual pairing mode), like `kubectl certificate approve`",
  );
  change("deny", "deny a pending registration: Rejected/DeniedByAdmin");

  devices
    .command("allow")
    .description(
      "pre-register a device by public key (a DeviceAllowance): approved when it first asks, even with pairing closed",
    )
    .requiredOption("--public-key <base64>", "the device's raw 32-byte Ed25519 public key, base64")
    .option("--name <name>", "the DeviceAllowance's name (default: allow-<deviceId prefix>)")
    .option("--description <text>", "a note for humans")
    .option("-n, --namespace <namespace>", "the operator's namespace", defaultNamespace(env))
    .option("--json", "machine-readable output")
    .action(
      async (
        o: { publicKey: string; name?: string; description?: string; namespace: string; json?: boolean },
        cmd: Command,
      ) => {
        const raw = Buffer.from(o.publicKey, "base64");
        if (raw.length !== 32 || raw.toString("base64") !== o.publicKey) {
          throw new UsageError(
            "--public-key: want the base64 (44 characters) of a raw 32-byte Ed25519 public key",
          );
        }
        const deviceId = deviceIdFromPublicKey(new Uint8Array(raw));
        const name = o.name ?? `allow-${deviceId.slice(0, 20)}`;
        if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name))
          throw new UsageError("--name: want a DNS-1123 name");
        await withConnection(cmd, env, async ({ rest, namespace }) => {
          const spec: DeviceAllowance["spec"] = { publicKey: o.publicKey };
          if (o.description !== undefined) spec.description = o.description;
          let created: DeviceAllowance;
          try {
            created = await rest.request<DeviceAllowance>("POST", allowancesPath(namespace), {
              body: { apiVersion: API_VERSION, kind: ALLOWANCE_KIND, metadata: { name, namespace }, spec },
              query: { fieldManager: "devreg-cli" },
            });
          } catch (e) {
            if (isKubeError(e, "E_KUBE_ALREADY_EXISTS"))
              throw new CliError(`DeviceAllowance ${name} already exists in ${namespace}`);
            throw e;
          }
          if (o.json) {
            printJson({
              name: created.metadata.name,
              namespace,
              publicKey: created.spec.publicKey,
              deviceId,
            });
            return;
          }
          console.log(
            `allowed ${deviceId} (DeviceAllowance ${created.metadata.name}): it is approved when it first asks`,
          );
        });
      },
    );
}

function normalizePhase(text: string): Phase {
  const p = PHASES.find((x) => x.toLowerCase() === text.toLowerCase());
  if (!p) throw new UsageError(`--phase: "${text}" is not one of ${PHASES.join(", ")}`);
  return p;
}

function view(r: DeviceRegistration) {
  return {
    name: r.metadata.name,
    phase: phaseOf(r),
    deviceUUID: r.status?.deviceUUID,
    deviceId: r.spec.deviceId,
    model: r.spec.model,
    reason: r.status?.reason,
    message: r.status?.message,
    decidedBy: r.status?.decidedBy,
    decidedAt: r.status?.decidedAt,
    approvedBy: r.status?.approvedBy,
    deactivate: r.spec.deactivate ?? false,
    createdAt: r.metadata.creationTimestamp,
  };
}

/** A UUID is looked up by scanning the list (status fields cannot be field-selected on CRs). */
async function find(regs: Registrations, target: string): Promise<DeviceRegistration> {
  if (UUID_RE.test(target)) {
    const uuid = target.toLowerCase();
    const hit = (await regs.listAll()).find((r) => r.status?.deviceUUID === uuid);
    if (!hit) throw new CliError(`no registration with UUID ${target} in ${regs.namespace}`);
    return hit;
  }
  try {
    return await regs.get(target);
  } catch (e) {
    if (isKubeError(e, "E_KUBE_NOT_FOUND")) {
      throw new CliError(
        `no registration named ${target} in ${regs.namespace} (give a name or a device UUID)`,
      );
    }
    throw e;
  }
}

async function waitForOperator(
  regs: Registrations,
  updated: DeviceRegistration,
  timeoutMs: number,
  verb: string,
): Promise<DeviceRegistration> {
  const gen = updated.metadata.generation ?? 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cur = await regs.get(updated.metadata.name);
    if (hasObserved(cur, gen)) return cur;
    if (Date.now() > deadline) {
      throw new CliError(
        `${updated.metadata.name}: ${verb} requested (spec set), but no operator acted on it in ${formatDuration(timeoutMs)}; is \`devreg operator\` running in ${regs.namespace}?`,
      );
    }
    await sleep(200);
  }
}

function age(created: string | undefined): string {
  if (!created) return "-";
  return formatDuration(Date.now() - Date.parse(created));
}
