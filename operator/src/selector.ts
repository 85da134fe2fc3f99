import { CelScalar, celEnv, isCelError, parse, plan } from "@bufbuild/cel";
import type { DeviceRegistrationSpec } from "@devreg/kube";

/**
 * A pairing window's selector: a CEL expression (https://cel.dev, evaluated by @bufbuild/cel)
 * over the request's metadata, as the registration's spec records it. Every variable is a
 * string, "" when the device sent none:
 *
 *   model, firmwareVersion, hardwareRevision, serialNumber, deviceId
 *
 * e.g. `model == "thermo-2" && firmwareVersion.startsWith("2.")`. The values are device-
 * controlled text: they are only ever CEL string values, never part of the expression.
 */
export const SELECTOR_VARIABLES = [
  "model",
  "firmwareVersion",
  "hardwareRevision",
  "serialNumber",
  "deviceId",
] as const;
export type SelectorInput = Record<(typeof SELECTOR_VARIABLES)[number], string>;

const MAX_SELECTOR = 1024;

const env = celEnv({
  variables: {
    model: CelScalar.STRING,
    firmwareVersion: CelScalar.STRING,
    hardwareRevision: CelScalar.STRING,
    serialNumber: CelScalar.STRING,
    deviceId: CelScalar.STRING,
  },
});

/** true: the device is in scope; false: excluded; an error (not a bool, unknown name) counts as excluded. */
export type Selector = (input: SelectorInput) => { matched: boolean; error?: string };

export type CompiledSelector = { ok: true; selector: Selector } | { ok: false; error: string };

const SAMPLE: SelectorInput = {
  model: "",
  firmwareVersion: "",
  hardwareRevision: "",
  serialNumber: "",
  deviceId: "",
};

/**
 * Parses and plans `source` once; refuses one that does not parse or does not yield a bool on
 * empty metadata (unknown variables, type errors), so a typo is caught when the window opens.
 */
export function compileSelector(source: string): CompiledSelector {
  if (source.length > MAX_SELECTOR) return { ok: false, error: `longer than ${MAX_SELECTOR} characters` };
  let run: (input: SelectorInput) => unknown;
  try {
    run = plan(env, parse(source));
  } catch (e) {
    return { ok: false, error: `does not parse: ${(e as Error).message}` };
  }
  const evaluate: Selector = (input) => {
    let r: unknown;
    try {
      r = run(input);
    } catch (e) {
      return { matched: false, error: (e as Error).message };
    }
    if (isCelError(r)) return { matched: false, error: r.message };
    if (typeof r !== "boolean") return { matched: false, error: `yields ${typeof r}, not a bool` };
    return { matched: r };
  };
  const probe = evaluate(SAMPLE);
  if (probe.error !== undefined) return { ok: false, error: probe.error };
  return { ok: true, selector: evaluate };
}

/** The selector's input from a registration's spec (absent fields are ""). */
export function selectorInput(spec: Partial<DeviceRegistrationSpec> | undefined): SelectorInput {
  const s = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    model: s(spec?.model),
    firmwareVersion: s(spec?.firmwareVersion),
    hardwareRevision: s(spec?.hardwareRevision),
    serialNumber: s(spec?.serialNumber),
    deviceId: s(spec?.deviceId),
  };
}
