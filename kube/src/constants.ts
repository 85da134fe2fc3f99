/** The DeviceRegistration API, as served by crds/devices.example.com_deviceregistrations.yaml. */
export const GROUP = "devices.example.com";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "DeviceRegistration";
export const PLURAL = "deviceregistrations";

/** Default namespace, as in the original design. Every component takes a `--namespace` override. */
export const DEFAULT_NAMESPACE = "device-operator-system";

/** The cluster-wide pairing switch lives in this ConfigMap (shape: operator/README.md). */
export const PAIRING_CONFIGMAP = "devreg-pairing";

/** The operator's leader-election Lease (its default `--lease-name`); the CLI reads it to see who leads. */
export const OPERATOR_LEASE = "devreg-operator";

/** The CRD's selectableFields entry (.status.phase): usable in field selectors of list and watch. */
export const FIELD_PHASE = "status.phase";

/** Labels the gateway puts on registrations it creates. */
export const LABEL_DEVICE_ID = "devices.example.com/device-id";
export const LABEL_GATEWAY = "devices.example.com/gateway";

/** Pre-registered devices (allowlist): crds/devices.example.com_deviceallowances.yaml. */
export const ALLOWANCE_KIND = "DeviceAllowance";
export const ALLOWANCE_PLURAL = "deviceallowances";
