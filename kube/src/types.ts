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
  /** An admin's decision on an undecided registration (`devreg devices approve|deny`). */
  approval?: "Approve" | "Deny";
  model?: string;
  firmwareVersion?: string;
  hardwareRevision?: string;
  serialNumber?: string;
}

/** What allowed an approval (status.approvedBy). */
export interface ApprovalSource {
  kind: "PairingWindow" | "Allowlist" | "Admin";
  /** PairingWindow: the window's id and its settings when it approved. */
  windowId?: string;
  maxDevices?: number;
  selector?: string;
  expiresAt?: string;
  /** Allowlist: the DeviceAllowance's name. */
  allowance?: string;
  /** Admin: the field manager that set spec.approval or spec.deactivate. */
  admin?: string;
}

export interface DeviceRegistrationStatus {
  phase?: Phase;
  message?: string;
  reason?: string;
  deviceUUID?: string;
  decidedBy?: string;
  decidedAt?: string;
  /** Audit: what allowed the approval. */
  approvedBy?: ApprovalSource;
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

/** A pre-registered device: approved when its key first asks, even with pairing closed. */
export interface DeviceAllowance {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: {
    /** Base64 of the raw 32-byte Ed25519 public key (immutable). */
    publicKey: string;
    description?: string;
  };
  status?: {
    /** The registration it approved, and when. */
    usedBy?: string;
    usedAt?: string;
  };
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
