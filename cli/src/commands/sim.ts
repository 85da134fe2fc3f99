import {
  CRYPTO_BACKENDS,
  type CryptoBackendName,
  checkMetadata,
  Fleet,
  SimError,
} from "@devreg/firmware-sim";
import type { DeviceMetadata } from "@devreg/protocol";
import type { Command } from "commander";
import { CliError, UsageError } from "../errors.ts";
import { parseDurationMs, parseNonNegativeInt, parsePositiveInt, parsePositiveNumber } from "../options.ts";
import { StatusLine, printJson } from "../output.ts";
import { parseGatewayKey } from "./gateway-key.ts";
import { progressLine, summaryTable } from "./sim-output.ts";

interface SimFlags {
  count: string;
  rate: string;
  mqtt: string;
  gatewayKey: string;
  identities?: string;
  model: string;
  firmware: string;
  hardware?: string;
  crypto: string;
  timeout: string;
  sourceAddresses?: string;
  json?: boolean;
}

/** SimError -> the one line the user sees; the codes are the simulator's stable contract. */
function cliErrorFor(err: SimError, flags: SimFlags): CliError {
  if (err.code === "E_GATEWAY_KEY_MISMATCH")
    return new CliError(`${err.message}; check --gateway-key ${flags.gatewayKey}`);
  // An option the simulator cannot use (e.g. --model that is not valid metadata).
  if (err.code === "E_BAD_OPTION") return new UsageError(err.message);
  return new CliError(err.message);
}

export function registerSim(program: Command): void {
  program
    .command("sim")
    .description(
      "boot a fleet of virtual MCUs that enroll with the gateway over MQTT (exit 1 unless every device ends final)",
    )
    .option("--count <n>", "number of devices", "1")
    .option("--rate <r>", "devices booted per second", "50")
    .option("--mqtt <url>", "gateway MQTT URL", "mqtt://127.0.0.1:1883")
    .requiredOption(
      "--gateway-key <key>",
      "gateway Ed25519 public key to pin: base64, hex, or @file (base64, PEM, raw)",
    )
    .option(
      "--identities <dir>",
      "keep device identities here (one file per device) so re-runs reuse keys and UUIDs",
    )
    .option("--model <name>", "device model", "devreg-sim")
    .option("--firmware <version>", "firmware version", "0.1.0")
    .option("--hardware <revision>", "hardware revision")
    .option("--crypto <backend>", `Ed25519 backend: ${CRYPTO_BACKENDS.join(" or ")}`, "node")
    .option("--timeout <duration>", "per-device enrollment deadline from its boot (e.g. 60s, 2m)", "60s")
    .option(
      "--source-addresses <n>",
      "loopback source addresses the devices connect from, round-robin (default: one per device when --mqtt is on 127.0.0.0/8; 0 = none)",
    )
    .option("--json", "print the summary as JSON on stdout")
    .action(async (flags: SimFlags) => {
      const count = parsePositiveInt(flags.count, "--count");
      const rate = parsePositiveNumber(flags.rate, "--rate");
      const deadlineMs = parseDurationMs(flags.timeout, "--timeout");
      if (!CRYPTO_BACKENDS.includes(flags.crypto as CryptoBackendName)) {
        throw new UsageError(
          `--crypto must be ${CRYPTO_BACKENDS.join(" or ")}; got ${JSON.stringify(flags.crypto)}`,
        );
      }
      if (!/^(mqtts?|tcp|ssl|wss?):\/\/[^/]+/.test(flags.mqtt)) {
        throw new UsageError(
          `--mqtt must be a URL like mqtt://127.0.0.1:1883; got ${JSON.stringify(flags.mqtt)}`,
        );
      }
      const gatewayPublicKey = parseGatewayKey(flags.gatewayKey);
      const metadata: DeviceMetadata = { model: flags.model, firmwareVersion: flags.firmware };
      if (flags.hardware !== undefined) metadata.hardwareRevision = flags.hardware;

      const status = new StatusLine();
      let fleet: Fleet;
      try {
        checkMetadata(metadata);
        fleet = new Fleet({
          count,
          rate,
          mqttUrl: flags.mqtt,
          gatewayPublicKey,
          identitiesDir: flags.identities,
          metadata,
          crypto: flags.crypto as CryptoBackendName,
          deadlineMs,
          progressIntervalMs: status.intervalMs,
          ...(flags.sourceAddresses !== undefined
            ? { sourceAddresses: parseNonNegativeInt(flags.sourceAddresses, "--source-addresses") }
            : {}),
        });
      } catch (err) {
        throw err instanceof SimError ? cliErrorFor(err, flags) : err;
      }

      fleet.on("progress", (p) => status.update(progressLine(p)));
      const onSigint = () => void fleet.stop();
      process.once("SIGINT", onSigint);
      let summary: Awaited<ReturnType<Fleet["run"]>>;
      try {
        summary = await fleet.run();
      } catch (err) {
        throw err instanceof SimError ? cliErrorFor(err, flags) : err;
      } finally {
        process.off("SIGINT", onSigint);
        status.end();
      }

      if (flags.json) printJson(summary);
      else console.log(summaryTable(summary));
      if (!summary.allFinal) process.exitCode = 1;
    });
}
