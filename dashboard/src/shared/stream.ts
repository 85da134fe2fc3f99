import type { DeviceRow } from "./device-row.ts";

/** The pairing window as the browser sees it (from ConfigMap devreg-pairing, via a watch). */
export interface PairingView {
  open: boolean;
  /**
   * operator PairingCode: PairingWindowOpen, PairingDisabled, PairingWindowExpired,
   * PairingBudgetSpent, PairingConfigMissing, PairingConfigInvalid.
   */
  code: string;
  reason: string;
  expiresAt?: string;
  /** The window's settings as the operator reads them (absent when the ConfigMap is missing or malformed). */
  window?: PairingWindowView;
  /**
   * Every data field of the ConfigMap the operator does not define, as text (from a newer
   * operator). Shown as-is; the dashboard does not interpret fields it does not know.
   */
  extra: Record<string, string>;
}

interface PairingWindowView {
  id?: string;
  mode: "auto" | "manual";
  maxDevices?: number;
  approvalsUsed: number;
  /** CEL source: text typed by an admin, rendered as text. */
  selector?: string;
}

/** POST /api/pairing: what `devreg pairing on|off` takes. */
export interface PairingRequest {
  enabled: boolean;
  /** e.g. "10m"; absent or empty: open until closed. */
  duration?: string;
  mode?: "auto" | "manual";
  maxDevices?: number;
  selector?: string;
}

export interface ComponentHealth {
  name: "gateway" | "operator";
  /** undefined: no URL configured for it. */
  url?: string;
  ready: boolean;
  detail: string;
}

/** One metrics sample: rates over the last scrape interval, latency percentiles in ms. */
export interface MetricsPoint {
  /** Unix seconds. */
  t: number;
  /** Gateway answers per second, by outcome (approved, rejected, pending, deactivated, busy, error). */
  enrollRate: Record<string, number>;
  /** Gateway enrollment latency percentiles over the interval (null: no request in it). */
  latencyMs: { p50: number | null; p90: number | null; p99: number | null };
  /** Operator decisions per second, by outcome. */
  decisionRate: Record<string, number>;
  health: ComponentHealth[];
}

/** Server-sent events on /api/stream, one JSON object per `data:` line. */
export type StreamMessage =
  | { type: "snapshot"; devices: DeviceRow[]; serverTime: number }
  | { type: "changes"; upserts: DeviceRow[]; deletes: string[] }
  | { type: "pairing"; pairing: PairingView; serverTime: number }
  | { type: "metrics"; points: MetricsPoint[] }
  | { type: "error"; source: "devices" | "pairing"; code: string; message: string };

/** What GET /api/session tells the page. */
export interface SessionInfo {
  user: string;
  namespace: string;
  csrfToken: string;
  /** kubeconfig: the credential devreg dashboard was started with; bearer: the token the user signed in with. */
  credential: "kubeconfig" | "bearer";
}

/** CSRF header every state-changing request carries (with the session's token). */
export const CSRF_HEADER = "x-devreg-csrf";
