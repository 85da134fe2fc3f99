import { ALLOWANCE_PLURAL, GROUP, PAIRING_CONFIGMAP, PLURAL, VERSION } from "./constants.ts";

/**
 * Every apiserver path devreg uses, in one place: callers never build one by hand, so a typo'd
 * group or a missing encodeURIComponent cannot hide in a template string somewhere.
 */

/** The devices.example.com group version: answers once the CRDs are served. */
export const DEVREG_API_PATH = `/apis/${GROUP}/${VERSION}`;

const seg = encodeURIComponent;
const core = (namespace: string) => `/api/v1/namespaces/${seg(namespace)}`;
const ours = (namespace: string) => `${DEVREG_API_PATH}/namespaces/${seg(namespace)}`;

export function registrationsPath(namespace: string): string {
  return `${ours(namespace)}/${PLURAL}`;
}

export function registrationPath(namespace: string, name: string): string {
  return `${registrationsPath(namespace)}/${seg(name)}`;
}

/** The path of DeviceAllowances in `namespace`. */
export function allowancesPath(namespace: string): string {
  return `${ours(namespace)}/${ALLOWANCE_PLURAL}`;
}

/** A DeviceAllowance's status subresource (usedBy/usedAt). */
export function allowanceStatusPath(namespace: string, name: string): string {
  return `${allowancesPath(namespace)}/${seg(name)}/status`;
}

export function configMapsPath(namespace: string): string {
  return `${core(namespace)}/configmaps`;
}

/** The cluster-wide pairing switch (ConfigMap devreg-pairing). */
export function pairingPath(namespace: string): string {
  return `${configMapsPath(namespace)}/${PAIRING_CONFIGMAP}`;
}

export function eventsPath(namespace: string): string {
  return `${core(namespace)}/events`;
}

export function leasesPath(namespace: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases`;
}

export function leasePath(namespace: string, name: string): string {
  return `${leasesPath(namespace)}/${seg(name)}`;
}

export const NAMESPACES_PATH = "/api/v1/namespaces";

export function namespacePath(name: string): string {
  return `${NAMESPACES_PATH}/${seg(name)}`;
}

export function serviceAccountTokenPath(namespace: string, name: string): string {
  return `${core(namespace)}/serviceaccounts/${seg(name)}/token`;
}

export const CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

export function crdPath(name: string): string {
  return `${CRDS_PATH}/${seg(name)}`;
}

/** Who am I (authentication.k8s.io SelfSubjectReview). */
export const SELF_SUBJECT_REVIEWS_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
