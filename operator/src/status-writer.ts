import type { DeviceRegistration, DeviceRegistrationStatus, Registrations } from "@devreg/kube";

/** Shows in managedFields, so `kubectl get -o yaml` says who wrote each status field. */
export const FIELD_MANAGER = "devreg-operator";

/**
 * Merge-patches status through the status subresource, with `resourceVersion` as a precondition
 * (409 if the object changed since we read it), under our field manager name.
 */
export function writeStatus(
  regs: Registrations,
  name: string,
  status: DeviceRegistrationStatus,
  resourceVersion: string | undefined,
): Promise<DeviceRegistration> {
  return regs.patchStatus(name, status, { resourceVersion, fieldManager: FIELD_MANAGER });
}
