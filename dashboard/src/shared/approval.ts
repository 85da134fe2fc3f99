/**
 * status.approvedBy (the operator's audit of what allowed an approval, kube/src/types.ts
 * ApprovalSource) in one line of text for the detail view. Shared by the server's tests and
 * the UI; pure. The selector is an admin's text and is rendered as text like everything else.
 */
import type { ApprovalSource } from "@devreg/kube";

/** Type-only (nothing of @devreg/kube reaches the browser bundle); kind is text so a newer kind still reads. */
export type ApprovalSourceLike = Omit<ApprovalSource, "kind"> & { kind?: string };

export function describeApprovedBy(src: ApprovalSourceLike | undefined): string | undefined {
  if (!src?.kind) return undefined;
  switch (src.kind) {
    case "PairingWindow": {
      const settings = [
        src.maxDevices !== undefined ? `budget ${src.maxDevices}` : undefined,
        src.selector !== undefined ? `selector ${src.selector}` : undefined,
        src.expiresAt ? `until ${src.expiresAt}` : undefined,
      ].filter(Boolean);
      return `pairing window ${src.windowId ?? "(no id)"}${settings.length ? ` (${settings.join("; ")})` : ""}`;
    }
    case "Allowlist":
      return `allowlist: DeviceAllowance ${src.allowance ?? "?"}`;
    case "Admin":
      return `admin approval${src.admin ? ` by field manager ${src.admin}` : ""}`;
    default:
      return src.kind;
  }
}
