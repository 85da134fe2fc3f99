import {
  type DeviceRegistration,
  type DeviceRegistrationStatus,
  LABEL_DEVICE_ID,
  type ObjectMeta,
} from "@devreg/kube";

/**
 * What the gateway keeps of each cached registration: what it reads to answer a device
 * (registrationOutcome: phase, UUID, reason, generations, spec.deactivate), to match a key and
 * adopt (spec.publicKey, labels, resourceVersion), and to find the device (spec.deviceId, name).
 * Conditions, messages, timestamps, annotations and the approval audit are the operator's and the
 * admin's; dropping them took the cache from most of the gateway's heap per connected device
 * (541,768 strings at 10,000 devices) to a few strings per device.
 */
export function slimRegistration(reg: DeviceRegistration): DeviceRegistration {
  const m = reg.metadata;
  const metadata: ObjectMeta = { name: m.name };
  if (m.namespace !== undefined) metadata.namespace = intern(m.namespace);
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (m.generation !== undefined) metadata.generation = m.generation;
  if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
  if (m.labels !== undefined) {
    const labels: Record<string, string> = {};
    // Device ids are unique per object: sharing them saves nothing.
    for (const [k, v] of Object.entries(m.labels)) labels[intern(k)] = k === LABEL_DEVICE_ID ? v : intern(v);
    metadata.labels = labels;
  }
  const out: DeviceRegistration = {
    apiVersion: intern(reg.apiVersion),
    kind: intern(reg.kind),
    metadata,
    spec: { publicKey: reg.spec?.publicKey },
  };
  if (reg.spec?.deviceId !== undefined) out.spec.deviceId = reg.spec.deviceId;
  if (reg.spec?.deactivate !== undefined) out.spec.deactivate = reg.spec.deactivate;
  const st = reg.status;
  if (st !== undefined) {
    const status: DeviceRegistrationStatus = {};
    if (st.phase !== undefined) status.phase = intern(st.phase) as DeviceRegistrationStatus["phase"];
    if (st.reason !== undefined) status.reason = intern(st.reason);
    if (st.deviceUUID !== undefined) status.deviceUUID = st.deviceUUID;
    if (st.observedGeneration !== undefined) status.observedGeneration = st.observedGeneration;
    out.status = status;
  }
  return out;
}

/**
 * Short strings every registration repeats (namespace, kind, phase, reason, label keys, the
 * gateway's own id) are shared instead of copied per object. Bounded: past the cap a string is
 * simply not shared.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 4_096;
const MAX_INTERNED_LENGTH = 96;

function intern(s: string): string {
  if (s.length > MAX_INTERNED_LENGTH) return s;
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size < MAX_INTERNED) interned.set(s, s);
  return s;
}
