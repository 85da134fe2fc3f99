import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createGatewaySigner } from "@devreg/protocol";
import { GatewayError, errorText } from "./errors.ts";

export type GatewaySigner = ReturnType<typeof createGatewaySigner>;

export interface LoadedKey {
  signer: GatewaySigner;
  /** Where the key came from, for the start-up log line (never the key itself). */
  origin: "inline" | "file" | "generated-file" | "ephemeral";
}

/**
 * The gateway's Ed25519 signing key, in this order: inline PEM/seed; the key file if it
 * exists; else a new key, written to the key file (mode 0600) when one is named, or kept
 * in memory only (devices cannot pin an ephemeral key across restarts: logged as a warning).
 */
export function loadGatewayKey(key: string | Uint8Array | undefined, keyFile: string | undefined): LoadedKey {
  try {
    if (key !== undefined) return { signer: createGatewaySigner(key), origin: "inline" };
    if (keyFile !== undefined && existsSync(keyFile)) {
      return { signer: createGatewaySigner(readFileSync(keyFile, "utf8")), origin: "file" };
    }
    const signer = createGatewaySigner();
    if (keyFile === undefined) return { signer, origin: "ephemeral" };
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    // "wx": never overwrite a key another process wrote meanwhile.
    writeFileSync(keyFile, signer.privateKeyPem, { mode: 0o600, flag: "wx" });
    return { signer, origin: "generated-file" };
  } catch (e) {
    throw new GatewayError("E_GW_KEY", `gateway key${keyFile ? ` (${keyFile})` : ""}: ${errorText(e)}`);
  }
}
