/** TypeScript view of the DeviceRegistration custom resource (crds/). */
export type Phase = "Pending" | "Approved" | "Rejected" | "Deactivated";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** metav1.Condition */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface DeviceRegistrationSpec {
  /** Base64 of the raw 32-byte Ed25519 public key. */
  publicKey: string;
  deviceId?: string;
  deactivate?: boolean;
  model?: string;
  firmwareVersion?: string;
  hardwareRevision?: string;
  serialNumber?: string;
}

export interface DeviceRegistrationStatus {
  phase?: Phase;
  message?: string;
  reason?: string;
  deviceUUID?: string;
  decidedBy?: string;
  decidedAt?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface DeviceRegistration {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: DeviceRegistrationSpec;
  status?: DeviceRegistrationStatus;
}

export interface ConfigMap {
  apiVersion: "v1";
  kind: "ConfigMap";
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

export interface KubeList<T> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}
