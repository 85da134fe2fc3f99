import { CSRF_HEADER, type SessionInfo } from "../src/shared/stream.ts";

/** A failed request, with the server's code (E_KUBE_FORBIDDEN when RBAC said no). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly login?: string,
  ) {
    super(message);
  }
}

let csrfToken = "";

export function setCsrfToken(t: string): void {
  csrfToken = t;
}

/** JSON in, JSON out; state-changing calls carry the session's CSRF token. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== "GET") headers[CSRF_HEADER] = csrfToken;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed ?? {}) as { code?: string; message?: string; login?: string };
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, e.login);
  }
  return parsed as T;
}

export const getSession = () => api<SessionInfo>("GET", "/api/session");
