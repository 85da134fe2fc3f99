import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from "./constants.ts";
import type { KubeRest, RequestOptions } from "./rest.ts";
import type { DeviceRegistration, DeviceRegistrationStatus, KubeList } from "./types.ts";

/** Paths and typed calls for DeviceRegistrations in one namespace. */
export class Registrations {
  constructor(
    readonly rest: KubeRest,
    readonly namespace: string,
  ) {}

  collectionPath(): string {
    return `/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${PLURAL}`;
  }

  itemPath(name: string): string {
    return `${this.collectionPath()}/${encodeURIComponent(name)}`;
  }

  get(name: string, opts?: RequestOptions): Promise<DeviceRegistration> {
    return this.rest.request("GET", this.itemPath(name), opts);
  }

  list(query?: RequestOptions["query"]): Promise<KubeList<DeviceRegistration>> {
    return this.rest.request("GET", this.collectionPath(), { query });
  }

  /** Every registration in the namespace (paged). */
  async listAll(query?: RequestOptions["query"]): Promise<DeviceRegistration[]> {
    return (await this.rest.listAll<DeviceRegistration>(this.collectionPath(), query)).items;
  }

  create(obj: Omit<DeviceRegistration, "apiVersion" | "kind">, opts?: RequestOptions): Promise<DeviceRegistration> {
    return this.rest.request("POST", this.collectionPath(), {
      ...opts,
      body: { apiVersion: API_VERSION, kind: KIND, ...obj },
    });
  }

  /** Merge-patch of spec/metadata (never status: the main resource ignores status). */
  patch(name: string, patch: Record<string, unknown>): Promise<DeviceRegistration> {
    return this.rest.request("PATCH", this.itemPath(name), {
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  /**
   * Writes status through the status subresource. With `resourceVersion` set, the write is
   * optimistic: a concurrent change makes it fail with 409 (E_KUBE_CONFLICT).
   */
  patchStatus(name: string, status: DeviceRegistrationStatus, resourceVersion?: string): Promise<DeviceRegistration> {
    const body: Record<string, unknown> = { status };
    if (resourceVersion) body.metadata = { resourceVersion };
    return this.rest.request("PATCH", `${this.itemPath(name)}/status`, {
      body,
      contentType: "application/merge-patch+json",
    });
  }

  delete(name: string): Promise<unknown> {
    return this.rest.request("DELETE", this.itemPath(name));
  }
}
