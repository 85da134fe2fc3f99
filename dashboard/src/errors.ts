/** Dashboard errors carry a machine-readable code; the HTTP layer maps codes to statuses. */
export type DashboardErrorCode =
  | "E_CONFIG"
  | "E_LISTEN"
  | "E_ASSETS_MISSING"
  | "E_UNAUTHENTICATED"
  | "E_LOGIN_TOKEN"
  | "E_CSRF"
  | "E_BAD_REQUEST"
  | "E_NOT_FOUND"
  /** A bound on what signed-in users can make the dashboard hold (sessions, live streams). */
  | "E_LIMIT"
  /** Too many sign-in attempts from one address or on the whole dashboard (429 + Retry-After). */
  | "E_RATE_LIMITED"
  /** Too many sign-ins being checked at once: answered at once, not queued (429 + Retry-After). */
  | "E_BUSY";

export class DashboardError extends Error {
  override readonly name = "DashboardError";
  constructor(
    readonly code: DashboardErrorCode,
    message: string,
    /** Sent as Retry-After when set. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function isDashboardError(e: unknown, code?: DashboardErrorCode): e is DashboardError {
  return e instanceof DashboardError && (code === undefined || e.code === code);
}
