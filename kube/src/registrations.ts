import { API_VERSION, KIND } from "./constants.ts";
import { registrationPath, registrationsPath } from "./paths.ts";
import type { KubeRest, RequestOptions } from "./rest.ts";
import type { DeviceRegistration, DeviceRegistrationStatus, KubeList } from "./types.ts";

/** Per call: a bound on this request (else the client's default) and a way to give it up. */
export type CallOptions = Pick<RequestOptions, "timeoutMs" | "signal">;

/** A read may also pass query parameters (e.g. resourceVersion "0": served from the watch cache). */
export type ReadOptions = CallOptions & Pick<RequestOptions, "query">;

export interface WriteOptions extends CallOptions {
  /** Recorded in managedFields: `kubectl get -o yaml` (and the operator's decidedBy) say who wrote it. */
  fieldManager?: string;
}

export interface StatusWriteOptions extends WriteOptions {
  /** Optimistic write: a concurrent change makes it fail with 409 (E_KUBE_CONFLICT). */
  resourceVersion?: string;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only this incarnation (uid) in this state (resourceVersion); else 409 or 404. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

const MERGE_PATCH = "application/merge-patch+json";

/** Typed calls for DeviceRegistrations in one namespace: the only writer of their paths. */
export class Registrations {
  constructor(
    readonly rest: KubeRest,
    readonly namespace: string,
  ) {}

  collectionPath(): string {
    return registrationsPath(this.namespace);
  }

  itemPath(name: string): string {
    return registrationPath(this.namespace, name);
  }

  get(name: string, opts?: ReadOptions): Promise<DeviceRegistration> {
    return this.rest.request("GET", this.itemPath(name), opts);
  }

  list(query?: RequestOptions["query"], opts?: CallOptions): Promise<KubeList<DeviceRegistration>> {
    return this.rest.request("GET", this.collectionPath(), { ...opts, query });
  }

  /** Every registration in the namespace (paged). */
  async listAll(query?: RequestOptions["query"]): Promise<DeviceRegistration[]> {
    return (await this.rest.listAll<DeviceRegistration>(this.collectionPath(), query)).items;
  }

  create(
    obj: Omit<DeviceRegistration, "apiVersion" | "kind">,
    opts: WriteOptions = {},
  ): Promise<DeviceRegistration> {
    return this.rest.request("POST", this.collectionPath(), {
      ...callOf(opts),
      body: { apiVersion: API_VERSION, kind: KIND, ...obj },
    });
  }

  /** Merge-patch of spec/metadata (never status: the main resource ignores status). */
  patch(name: string, patch: Record<string, unknown>, opts: WriteOptions = {}): Promise<DeviceRegistration> {
    return this.rest.request("PATCH", this.itemPath(name), {
      ...callOf(opts),
      body: patch,
      contentType: MERGE_PATCH,
    });
  }

  /** Merge-patches status through the status subresource (optimistic with `resourceVersion`). */
  patchStatus(
    name: string,
    status: DeviceRegistrationStatus,
    opts: StatusWriteOptions = {},
  ): Promise<DeviceRegistration> {
    const body: Record<string, unknown> = { status };
    if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
    return this.rest.request("PATCH", `${this.itemPath(name)}/status`, {
      ...callOf(opts),
      body,
      contentType: MERGE_PATCH,
    });
  }

  delete(name: string, opts: DeleteOptions = {}): Promise<unknown> {
    const { preconditions, ...call } = opts;
    return this.rest.request("DELETE", this.itemPath(name), {
      ...call,
      ...(preconditions ? { body: { apiVersion: "v1", kind: "DeleteOptions", preconditions } } : {}),
    });
  }
}

/** RequestOptions for a write: the field manager goes in the query, as the apiserver wants it. */
function callOf(opts: WriteOptions): RequestOptions {
  const { fieldManager, timeoutMs, signal } = opts;
  return { timeoutMs, signal, ...(fieldManager ? { query: { fieldManager } } : {}) };
}
