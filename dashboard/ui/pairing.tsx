import { useEffect, useState } from "preact/hooks";
import { clockFace, secondsLeft } from "../src/shared/countdown.ts";
import type { PairingRequest, PairingView } from "../src/shared/stream.ts";
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

/** A setting of auto windows only (disabled in manual mode, as `devreg pairing on --manual` refuses it). */
function AutoOnlyField(p: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  disabled: boolean;
  placeholder: string;
  size?: number;
  wide?: boolean;
}) {
  return (
    <div class="row">
      <label for={p.id}>{p.label}</label>
      <input
        id={p.id}
        class={p.wide ? "wide" : undefined}
        size={p.size}
        value={p.value}
        disabled={p.disabled}
        spellcheck={false}
        placeholder={p.placeholder}
        onInput={(e) => p.onInput((e.target as HTMLInputElement).value)}
        aria-describedby="pairing-auto-help"
      />
    </div>
  );
}

/** Why a window is closed, in a few words (the operator's code; the reason line says the rest). */
const CLOSED_WHY: Record<string, string> = {
  PairingDisabled: "switched off",
  PairingWindowExpired: "expired",
  PairingBudgetSpent: "budget spent",
  PairingConfigMissing: "never opened (no ConfigMap)",
  PairingConfigInvalid: "ConfigMap malformed",
};

export function PairingPanel({ pairing, skewMs, confirm, notify }: Props) {
  const now = useNow() + skewMs;
  const [duration, setDuration] = useState("10m");
  const [manual, setManual] = useState(false);
  const [budget, setBudget] = useState("");
  const [selector, setSelector] = useState("");
  const [busy, setBusy] = useState(false);
  const expires = pairing?.expiresAt ? Date.parse(pairing.expiresAt) : undefined;
  const left = pairing?.open && expires !== undefined ? secondsLeft(expires, now) : undefined;
  const open = pairing?.open === true && (left === undefined || left > 0);
  // The countdown reached zero before the operator's close landed: it is expired all the same.
  const code = pairing?.open && !open ? "PairingWindowExpired" : pairing?.code;
  const win = pairing?.window;

  const request = (): PairingRequest | string => {
    const r: PairingRequest = { enabled: true, duration, mode: manual ? "manual" : "auto" };
    if (manual) return r;
    if (budget.trim() !== "") {
      if (!/^[1-9]\d{0,8}$/.test(budget.trim())) return "Device budget: want a positive whole number";
      r.maxDevices = Number(budget.trim());
    }
    if (selector.trim() !== "") r.selector = selector;
    return r;
  };

  const change = async (body: PairingRequest) => {
    setBusy(true);
    try {
      await api("POST", "/api/pairing", body);
      notify(body.enabled ? `Pairing opened for ${duration}${body.mode === "manual" ? " (manual approval)" : ""}` : "Pairing closed");
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
          <p class={`state ${open ? "open" : "closed"}`}>
            <span data-testid="pairing-state">{open ? "OPEN" : "CLOSED"}</span>
            {!open && code && (
              <span class="why" data-testid="pairing-closed-why">
                {" "}
                — {CLOSED_WHY[code] ?? code}
              </span>
            )}
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
          {win && (
            <dl class="extra window" aria-label={open ? "this pairing window" : "the last pairing window"}>
              <div>
                <dt>Mode</dt>
                <dd data-testid="pairing-mode">{win.mode === "manual" ? "manual: an admin approves each device" : "auto"}</dd>
              </div>
              <div>
                <dt>Approvals</dt>
                <dd data-testid="pairing-approvals">
                  {win.maxDevices === undefined
                    ? `${win.approvalsUsed} used, no budget`
                    : `${win.approvalsUsed} used, ${Math.max(0, win.maxDevices - win.approvalsUsed)} left of ${win.maxDevices}`}
                </dd>
              </div>
              <div>
                <dt>Selector</dt>
                <dd data-testid="pairing-selector">{win.selector === undefined ? "none: any device" : <code>{win.selector}</code>}</dd>
              </div>
              {win.id && (
                <div>
                  <dt>Window</dt>
                  <dd data-testid="pairing-window-id">{win.id}</dd>
                </div>
              )}
            </dl>
          )}
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
        class="pairing-form"
        onSubmit={(e) => {
          e.preventDefault();
          const body = request();
          if (typeof body === "string") {
            notify(body, true);
            return;
          }
          const scope =
            body.mode === "manual"
              ? `Devices that enroll in the next ${duration} wait, pending, until an admin approves or denies each one.`
              : `Every device that enrolls in the next ${duration}${body.selector ? " and matches the selector" : ""} will be approved${body.maxDevices ? `, until ${body.maxDevices} are` : ""}.`;
          confirm({
            title: "Open pairing?",
            body: scope,
            confirmLabel: "Open pairing",
            onConfirm: () => void change(body),
          });
        }}
      >
        <div class="row">
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
        </div>
        <div class="row">
          <input id="pairing-manual" type="checkbox" checked={manual} onChange={(e) => setManual((e.target as HTMLInputElement).checked)} />
          <label for="pairing-manual">Manual approval</label>
          <span class="help">each new device waits for Approve / Deny</span>
        </div>
        <AutoOnlyField id="pairing-max" label="Device budget" value={budget} onInput={setBudget} disabled={manual} placeholder="none" size={6} />
        <AutoOnlyField
          id="pairing-selector-input"
          label="Selector (CEL)"
          value={selector}
          onInput={setSelector}
          disabled={manual}
          placeholder='model == "thermo-2"'
          wide
        />
        <p id="pairing-auto-help" class="help">
          {manual
            ? "A budget and a selector apply to auto windows (as with devreg pairing on --manual)."
            : "The window closes after the budget's approvals; the selector admits devices by model, firmwareVersion, hardwareRevision, serialNumber, deviceId."}
        </p>
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            {open ? "Extend / reopen" : "Open pairing"}
          </button>
          <button type="button" disabled={busy || !pairing?.open} onClick={() => void change({ enabled: false })}>
            Close pairing
          </button>
        </div>
      </form>
    </section>
  );
}
