import { useEffect, useState } from "preact/hooks";
import { clockFace, secondsLeft } from "../src/shared/countdown.ts";
import type { PairingView } from "../src/shared/stream.ts";
import { api } from "./api.ts";
import type { ConfirmRequest } from "./confirm.tsx";

interface Props {
  pairing: PairingView | null;
  /** Server clock minus this page's clock, ms: the countdown runs on the server's time. */
  skewMs: number;
  confirm: (r: ConfirmRequest) => void;
  notify: (text: string, error?: boolean) => void;
}

/** Ticks once a second while mounted. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function PairingPanel({ pairing, skewMs, confirm, notify }: Props) {
  const now = useNow() + skewMs;
  const [duration, setDuration] = useState("10m");
  const [busy, setBusy] = useState(false);
  const expires = pairing?.expiresAt ? Date.parse(pairing.expiresAt) : undefined;
  const left = pairing?.open && expires !== undefined ? secondsLeft(expires, now) : undefined;
  const open = pairing?.open === true && (left === undefined || left > 0);

  const change = async (enabled: boolean) => {
    setBusy(true);
    try {
      await api("POST", "/api/pairing", enabled ? { enabled, duration } : { enabled });
      notify(enabled ? `Pairing opened for ${duration}` : "Pairing closed");
    } catch (e) {
      notify(`Pairing: ${(e as Error).message}`, true);
    } finally {
      setBusy(false);
    }
  };

  const extras = Object.entries(pairing?.extra ?? {});
  return (
    <section class="panel pairing" aria-labelledby="pairing-h">
      <h2 id="pairing-h">Pairing window</h2>
      {pairing === null ? (
        <p>Loading…</p>
      ) : (
        <>
          <p class={`state ${open ? "open" : "closed"}`} data-testid="pairing-state">
            {open ? "OPEN" : "CLOSED"}
          </p>
          {open && left !== undefined && (
            <p>
              closes in{" "}
              <span role="timer" aria-live="off" aria-label="time left in the pairing window" class="countdown" data-testid="countdown">
                {clockFace(left)}
              </span>
            </p>
          )}
          {open && left === undefined && <p>no expiry: open until closed</p>}
          <p class="reason">{pairing.reason}</p>
          {extras.length > 0 && (
            <dl class="extra" aria-label="other pairing settings">
              {extras.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          )}
        </>
      )}
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          confirm({
            title: "Open pairing?",
            body: `Every device that enrolls in the next ${duration} will be approved.`,
            confirmLabel: "Open pairing",
            onConfirm: () => void change(true),
          });
        }}
      >
        <label for="pairing-duration">Duration</label>
        <input
          id="pairing-duration"
          value={duration}
          size={6}
          pattern="[0-9hms. ]+"
          onInput={(e) => setDuration((e.target as HTMLInputElement).value)}
          aria-describedby="pairing-duration-help"
        />
        <span id="pairing-duration-help" class="help">
          e.g. 90s, 10m, 1h
        </span>
        <button type="submit" class="primary" disabled={busy}>
          {open ? "Extend / reopen" : "Open pairing"}
        </button>
        <button type="button" disabled={busy || !pairing?.open} onClick={() => void change(false)}>
          Close pairing
        </button>
      </form>
    </section>
  );
}
