import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { rowsToCsv } from "../src/shared/csv.ts";
import { type DeviceRow, PHASES, type RowFilter, type RowPhase, filterRows, phaseCounts } from "../src/shared/device-row.ts";
import type { DeviceStore } from "./store.ts";

const ROW_HEIGHT = 32;
const OVERSCAN = 8;

interface Props {
  store: DeviceStore;
  version: number;
  onOpen: (name: string) => void;
}

const COLUMNS: Array<{ key: keyof DeviceRow; label: string }> = [
  { key: "name", label: "Name" },
  { key: "phase", label: "Phase" },
  { key: "model", label: "Model" },
  { key: "serialNumber", label: "Serial" },
  { key: "deviceUUID", label: "UUID" },
  { key: "reason", label: "Reason" },
];

/**
 * The live device table. Only the rows in view (plus a few) are in the DOM, so 10,000
 * devices cost as much to render as 30. Every cell is a text node: device-controlled
 * strings never become markup.
 */
export function DeviceTable({ store, version, onOpen }: Props) {
  const [filter, setFilter] = useState<RowFilter>({});
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);
  const viewport = useRef<HTMLDivElement>(null);

  const rows = useMemo(() => filterRows(store.sorted, filter), [store, version, filter]);
  const models = useMemo(() => [...new Set(store.sorted.map((r) => r.model ?? ""))].filter(Boolean).sort().slice(0, 200), [store, version]);
  const counts = useMemo(() => phaseCounts(store.sorted), [store, version]);

  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (focusIndex === null) return;
    const el = viewport.current?.querySelector<HTMLElement>(`[data-index="${focusIndex}"]`);
    el?.focus({ preventScroll: true });
  }, [focusIndex, scrollTop]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = rows.slice(first, last);

  const moveFocus = (to: number) => {
    const i = Math.max(0, Math.min(rows.length - 1, to));
    const el = viewport.current;
    if (el) {
      const top = i * ROW_HEIGHT; // within the body; the sticky header takes one row above it
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + 2 * ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + 2 * ROW_HEIGHT - el.clientHeight;
      setScrollTop(el.scrollTop);
    }
    setFocusIndex(i);
  };

  const exportCsv = () => {
    const blob = new Blob([rowsToCsv(rows)], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "devreg-devices.csv";
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };

  return (
    <section class="panel devices" aria-labelledby="devices-h">
      <h2 id="devices-h">Devices</h2>
      <p class="counts" data-testid="device-counts" aria-live="polite">
        {store.loaded ? `${store.size} devices` : "loading…"} · {PHASES.map((p) => `${p} ${counts[p]}`).join(" · ")}
        {rows.length !== store.size ? ` · ${rows.length} shown` : ""}
      </p>
      <search class="row filters">
        <label for="f-phase">Phase</label>
        <select
          id="f-phase"
          value={filter.phase ?? ""}
          onChange={(e) => setFilter({ ...filter, phase: ((e.target as HTMLSelectElement).value || undefined) as RowPhase | undefined })}
        >
          <option value="">all</option>
          {PHASES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <label for="f-model">Model</label>
        <select id="f-model" value={filter.model ?? ""} onChange={(e) => setFilter({ ...filter, model: (e.target as HTMLSelectElement).value })}>
          <option value="">all</option>
          {models.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
        <label for="f-text">Search</label>
        <input
          id="f-text"
          type="search"
          placeholder="name, UUID, serial…"
          value={filter.text ?? ""}
          onInput={(e) => {
            setFilter({ ...filter, text: (e.target as HTMLInputElement).value });
            if (viewport.current) viewport.current.scrollTop = 0;
            setScrollTop(0);
          }}
        />
        <button type="button" onClick={exportCsv} disabled={rows.length === 0}>
          Export CSV
        </button>
      </search>
      <div class="viewport" ref={viewport} onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}>
        <table class="table" aria-label="devices" aria-rowcount={rows.length + 1}>
          <thead>
            <tr class="tr th" aria-rowindex={1}>
              {COLUMNS.map((c) => (
                <th key={c.key} scope="col" class={`c-${c.key}`}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
            {visible.map((r, k) => {
              const i = first + k;
              return (
                <tr
                  key={r.name}
                  class={`tr phase-${r.phase}`}
                  aria-rowindex={i + 2}
                  data-index={i}
                  data-name={r.name}
                  tabIndex={i === (focusIndex ?? 0) ? 0 : -1}
                  style={{ transform: `translateY(${i * ROW_HEIGHT}px)` }}
                  onClick={() => {
                    setFocusIndex(i);
                    onOpen(r.name);
                  }}
                  onKeyDown={(e) => {
                    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1 }[e.key];
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      onOpen(r.name);
                    } else if (to !== undefined) {
                      e.preventDefault();
                      moveFocus(to);
                    }
                  }}
                >
                  {COLUMNS.map((c) => (
                    <td key={c.key} class={`c-${c.key}`}>
                      {String(r[c.key] ?? "")}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p class="help">Arrow keys move between rows; Enter opens a device.</p>
    </section>
  );
}
