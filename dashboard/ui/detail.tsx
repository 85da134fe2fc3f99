import { useEffect, useRef, useState } from "preact/hooks";
import { type ApprovalSourceLike, describeApprovedBy } from "../src/shared/approval.ts";
import { type DeviceRow, awaitsAdmin } from "../src/shared/device-row.ts";
import { api } from "./api.ts";
import type { ConfirmRequest } from "./confirm.tsx";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

interface Detail {
  registration: {
    metadata: { name: string; creationTimestamp?: string; generation?: number };
    spec: Record<string, unknown>;
    status?: {
      phase?: string;
      reason?: string;
      message?: string;
      deviceUUID?: string;
      decidedBy?: string;
      decidedAt?: string;
      approvedBy?: ApprovalSourceLike;
      conditions?: Condition[];
    };
  };
  events: Array<{ type?: string; reason?: string; message?: string; count?: number; lastTimestamp?: string; source?: string }> | null;
  eventsError?: string;
}

interface Props {
  name: string | null;
  /** The live row (from the watch): a change of it refreshes the detail. */
  row: DeviceRow | undefined;
  onClose: () => void;
  confirm: (r: ConfirmRequest) => void;
  notify: (text: string, error?: boolean) => void;
}

type Verb = "approve" | "deny" | "deactivate" | "reactivate" | "delete";

const CONSEQUENCE: Record<Verb, string> = {
  approve: "The device is Approved and gets its UUID (decided by you, recorded in status.approvedBy).",
  deny: "The registration is Rejected (DeniedByAdmin); it stays so until deleted.",
  deactivate: "The device keeps its UUID but is refused, and told so, until reactivated.",
  reactivate: "The device is Approved again with the same UUID.",
  delete: "The registration is deleted; the device may enroll again (and is decided afresh).",
};

/** A device's detail, as a modal dialog: spec, status, conditions, Events, and the actions. */
export function DeviceDetail({ name, row, onClose, confirm, notify }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [detail, setDetail] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (name && !d.open) d.showModal();
    if (!name && d.open) d.close();
  }, [name]);

  useEffect(() => {
    if (!name) {
      setDetail(null);
      return;
    }
    let stale = false;
    api<Detail>("GET", `/api/devices/${encodeURIComponent(name)}`)
      .then((d) => {
        if (stale) return;
        setDetail(d);
        setError(null);
      })
      .catch((e: Error) => {
        if (!stale) setError(e.message);
      });
    return () => {
      stale = true;
    };
  }, [name, row?.resourceVersion]);

  const act = (verb: Verb) => {
    if (!name) return;
    const label = verb[0]?.toUpperCase() + verb.slice(1);
    confirm({
      title: `${label} ${name}?`,
      body: CONSEQUENCE[verb],
      confirmLabel: label,
      danger: verb !== "reactivate" && verb !== "approve",
      onConfirm: () => {
        const call =
          verb === "delete"
            ? api("DELETE", `/api/devices/${encodeURIComponent(name)}`)
            : api("POST", `/api/devices/${encodeURIComponent(name)}/${verb}`);
        call.then(
          () => {
            notify(`${label}: ${name} — request accepted`);
            if (verb === "delete") onClose();
          },
          (e: Error) => notify(`${label} ${name}: ${e.message}`, true),
        );
      },
    });
  };

  const reg = detail?.registration;
  const st = reg?.status;
  const phase = row?.phase ?? st?.phase ?? "Pending";
  const fields: Array<[string, unknown]> = reg
    ? [
        ["Phase", phase],
        ["Reason", st?.reason],
        ["Message", st?.message],
        ["Device UUID", st?.deviceUUID],
        ["Decided by", st?.decidedBy],
        ["Decided at", st?.decidedAt],
        ["Approved by", describeApprovedBy(st?.approvedBy)],
        ["spec.approval", reg.spec.approval],
        ["Device id", reg.spec.deviceId],
        ["Model", reg.spec.model],
        ["Serial number", reg.spec.serialNumber],
        ["Firmware", reg.spec.firmwareVersion],
        ["Hardware revision", reg.spec.hardwareRevision],
        ["spec.deactivate", reg.spec.deactivate === true ? "true" : "false"],
        ["Created", reg.metadata.creationTimestamp],
      ]
    : [];

  return (
    <dialog ref={ref} class="detail" aria-labelledby="detail-title" onClose={onClose}>
      <div class="detail-head">
        <h2 id="detail-title">{name ?? ""}</h2>
        <button type="button" onClick={onClose} aria-label="Close device details">
          ×
        </button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {row === undefined && detail && <p class="error">This registration was deleted.</p>}
      {reg && (
        <>
          <dl class="fields">
            {fields
              .filter(([, v]) => v !== undefined && v !== "")
              .map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd data-field={k}>{String(v)}</dd>
                </div>
              ))}
          </dl>
          <div class="buttons">
            {row && awaitsAdmin(row) && (
              <>
                <button type="button" class="primary" onClick={() => act("approve")}>
                  Approve
                </button>
                <button type="button" class="danger" onClick={() => act("deny")}>
                  Deny
                </button>
              </>
            )}
            {reg.spec.deactivate === true || phase === "Deactivated" ? (
              <button type="button" class="primary" onClick={() => act("reactivate")}>
                Reactivate
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => act("deactivate")} disabled={phase !== "Approved"}>
                Deactivate
              </button>
            )}
            <button type="button" class="danger" onClick={() => act("delete")}>
              Delete
            </button>
          </div>
          <h3>Conditions</h3>
          {(st?.conditions ?? []).length === 0 ? (
            <p>none</p>
          ) : (
            <table class="small">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Message</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {(st?.conditions ?? []).map((c) => (
                  <tr key={c.type}>
                    <td>{c.type}</td>
                    <td>{c.status}</td>
                    <td>{c.reason}</td>
                    <td>{c.message}</td>
                    <td>{c.lastTransitionTime}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Events</h3>
          {detail?.events === null ? (
            <p>Events are not readable with your credential ({detail.eventsError}).</p>
          ) : (detail?.events ?? []).length === 0 ? (
            <p>none</p>
          ) : (
            <table class="small">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Message</th>
                  <th scope="col">From</th>
                  <th scope="col">Last</th>
                </tr>
              </thead>
              <tbody>
                {(detail?.events ?? []).map((e, i) => (
                  <tr key={`${e.reason}-${i}`}>
                    <td>{e.type}</td>
                    <td>{e.reason}</td>
                    <td>{e.message}</td>
                    <td>{e.source}</td>
                    <td>
                      {e.lastTimestamp}
                      {e.count && e.count > 1 ? ` (×${e.count})` : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </dialog>
  );
}
