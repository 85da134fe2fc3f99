import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MetricsPoint } from "../src/shared/stream.ts";

const OUTCOMES = ["approved", "rejected", "pending", "deactivated", "busy", "error"] as const;
const COLORS = ["#1a7f37", "#cf222e", "#9a6700", "#6e7781", "#bc4c00", "#8250df"];

/** A uPlot chart whose data is replaced as points arrive; sized to its box. */
function LiveChart({ title, series, data }: { title: string; series: uPlot.Series[]; data: uPlot.AlignedData }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    plot.current = new uPlot({ title, width: Math.max(300, el.clientWidth), height: 200, series, scales: { x: { time: true } } }, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <div ref={box} class="chart" role="img" aria-label={title} />;
}

export function EnrollmentCharts({ points }: { points: MetricsPoint[] }) {
  const t = points.map((p) => p.t);
  const rates: uPlot.AlignedData = [t, ...OUTCOMES.map((o) => points.map((p) => p.enrollRate[o] ?? null))];
  const lat: uPlot.AlignedData = [
    t,
    points.map((p) => p.latencyMs.p50),
    points.map((p) => p.latencyMs.p90),
    points.map((p) => p.latencyMs.p99),
  ];
  const last = points[points.length - 1];
  const total = last ? Object.values(last.enrollRate).reduce((a, b) => a + b, 0) : 0;
  return (
    <section class="panel enrollment" aria-labelledby="enroll-h">
      <h2 id="enroll-h">Enrollment</h2>
      <ul class="health" aria-label="component health">
        {(last?.health ?? []).map((h) => (
          <li key={h.name} class={h.ready ? "ok" : "bad"} data-testid={`health-${h.name}`}>
            <strong>{h.name}</strong>: {h.ready ? "ready" : "not ready"} <span class="help">{h.detail}</span>
          </li>
        ))}
      </ul>
      <p data-testid="enroll-rate">
        now: {total.toFixed(1)} answers/s
        {last?.latencyMs.p50 != null ? ` · p50 ${last.latencyMs.p50} ms · p99 ${last.latencyMs.p99} ms` : ""}
      </p>
      <div class="charts">
        <LiveChart
          title="Enrollments per second, by outcome"
          series={[{}, ...OUTCOMES.map((o, i) => ({ label: o, stroke: COLORS[i], width: 2 }))]}
          data={rates}
        />
        <LiveChart
          title="Enrollment latency (ms)"
          series={[
            {},
            { label: "p50", stroke: "#0969da", width: 2 },
            { label: "p90", stroke: "#9a6700", width: 2 },
            { label: "p99", stroke: "#cf222e", width: 2 },
          ]}
          data={lat}
        />
      </div>
    </section>
  );
}
