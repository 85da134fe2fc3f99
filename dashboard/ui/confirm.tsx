import { useEffect, useRef } from "preact/hooks";

export interface ConfirmRequest {
  title: string;
  /** Plain text: device-controlled parts are rendered as text, never markup. */
  body: string;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
}

/** A modal <dialog>: focus moves into it, Escape cancels, Tab stays inside (the browser's own modal). */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (request && !d.open) d.showModal();
    if (!request && d.open) d.close();
  }, [request]);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      {request && (
        <form method="dialog">
          <h2 id="confirm-title">{request.title}</h2>
          <p>{request.body}</p>
          <div class="buttons">
            <button type="submit" value="cancel" onClick={onClose}>
              Cancel
            </button>
            <button
              type="button"
              class={request.danger ? "danger" : "primary"}
              onClick={() => {
                const r = request;
                onClose();
                r.onConfirm();
              }}
            >
              {request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
