import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DeviceCrypto } from "./device-crypto.ts";
import { SimError } from "./errors.ts";
import { type DeviceIdentity, loadOrCreateIdentity } from "./identity.ts";

/**
 * A fleet keeps one identity file per device, named by its index: device-00000.json,
 * device-00001.json, ... Re-running with the same directory boots the same devices (same
 * keys, same UUIDs); a larger --count adds new files after the existing ones.
 */
export function identityFileName(index: number): string {
  return `device-${String(index).padStart(5, "0")}.json`;
}

/** Loads (or creates) identities 0..count-1 with bounded concurrency; the first failure (e.g. a corrupt file) throws. */
export async function loadFleetIdentities(
  dir: string,
  count: number,
  crypto: DeviceCrypto,
  concurrency = 64,
): Promise<DeviceIdentity[]> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new SimError(
      "E_IDENTITY_IO",
      `cannot create identity directory ${dir}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
  const out = new Array<DeviceIdentity>(count);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    // After a failure no worker starts another file, and we wait for the ones in flight:
    // the caller gets the error only once nothing is still writing into `dir`.
    while (next < count && failure === undefined) {
      const i = next++;
      try {
        out[i] = await loadOrCreateIdentity(join(dir, identityFileName(i)), crypto);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) throw failure;
  return out;
}
