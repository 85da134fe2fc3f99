import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import type { MetricsPoint, PairingView, SessionInfo, StreamMessage } from "../src/shared/stream.ts";
import { ApiError, api, getSession, setCsrfToken } from "./api.ts";
import { EnrollmentCharts } from "./chart.tsx";
import { ConfirmDialog, type ConfirmRequest } from "./confirm.tsx";
import { DeviceDetail } from "./detail.tsx";
import { DeviceTable } from "./devices.tsx";
import { PairingPanel } from "./pairing.tsx";
import { DeviceStore } from "./store.ts";
import "./style.css";

const MAX_POINTS = 150;

function Dashboard({ session }: { session: SessionInfo }) {
  const store = useMemo(() => new DeviceStore(), []);
  const [version, setVersion] = useState(0);
  const [pairing, setPairing] = useState<PairingView | null>(null);
  const [skewMs, setSkewMs] = useState(0);
  const [points, setPoints] = useState<MetricsPoint[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [toast, setToast] = useState<{ text: string; error: boolean } | null>(null);
  const [streamError, setStreamError] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);

  const notify = useCallback((text: string, error = false) => setToast({ text, error }), []);

  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);

  useEffect(() => {
    const es = new EventSource("/api/stream");
    es.onopen = () => setConnected(true);
    es.onerror = () => setConnected(false);
    es.onmessage = (ev) => {
      const m = JSON.parse(ev.data as string) as StreamMessage;
      if (m.type === "snapshot" || m.type === "changes") {
        store.apply(m);
        if (m.type === "snapshot") {
          setSkewMs(m.serverTime - Date.now());
          setStreamError(null);
          performance.mark("devreg:snapshot-rendered");
        }
      } else if (m.type === "pairing") {
        setPairing(m.pairing);
        setSkewMs(m.serverTime - Date.now());
      } else if (m.type === "metrics") {
        setPoints((prev) => [...prev, ...m.points].slice(-MAX_POINTS));
      } else if (m.type === "error") {
        setStreamError(`${m.source}: ${m.code} ${m.message}`);
      }
    };
    return () => es.close();
  }, [store]);

  return (
    <>
      <header>
        <h1>devreg</h1>
        <span>
          namespace <strong>{session.namespace}</strong> · signed in as <strong data-testid="user">{session.user}</strong>
          {session.credential === "kubeconfig" ? " (kubeconfig)" : ""} ·{" "}
          <span class={connected ? "ok" : "bad"}>{connected ? "live" : "reconnecting…"}</span>
        </span>
        <button
          type="button"
          onClick={() => void api("POST", "/api/logout").finally(() => location.assign("/"))}
        >
          Sign out
        </button>
      </header>
      <div class="status" role="status" aria-live="polite">
        {toast && <p class={toast.error ? "error" : "ok"}>{toast.text}</p>}
        {streamError && <p class="error">Watch failed — {streamError}</p>}
      </div>
      <main>
        <div class="side">
          <PairingPanel pairing={pairing} skewMs={skewMs} confirm={setConfirm} notify={notify} />
          <EnrollmentCharts points={points} />
        </div>
        <DeviceTable store={store} version={version} onOpen={setOpen} />
      </main>
      <DeviceDetail name={open} row={open ? store.get(open) : undefined} onClose={() => setOpen(null)} confirm={setConfirm} notify={notify} />
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}

function BearerLogin({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <main class="login">
      <h1>devreg dashboard</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          api("POST", "/api/login", { token }).then(onDone, (err: Error) => setError(err.message));
        }}
      >
        <label for="bearer">Kubernetes bearer token</label>
        <textarea id="bearer" rows={4} cols={60} value={token} autocomplete="off" spellcheck={false} onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)} />
        <p class="help">
          Your own token (e.g. <code>kubectl create token &lt;your-serviceaccount&gt;</code>, or your OIDC id-token). Every action is
          made with it, so your RBAC decides. It stays in the server's memory for this session only.
        </p>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [login, setLogin] = useState<string | null>(null);
  const load = useCallback(() => {
    getSession().then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      (e: unknown) => setLogin(e instanceof ApiError ? (e.login ?? "link") : "link"),
    );
  }, []);
  useEffect(load, []);
  if (session) return <Dashboard session={session} />;
  if (login === "bearer") return <BearerLogin onDone={load} />;
  if (login === "link")
    return (
      <main class="login">
        <h1>devreg dashboard</h1>
        <p role="alert">Not signed in. Open the sign-in link that `devreg dashboard` printed (it works once).</p>
      </main>
    );
  return <p>Loading…</p>;
}

render(<App />, document.getElementById("app") as HTMLElement);
