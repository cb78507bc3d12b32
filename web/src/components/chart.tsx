import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './chart-style.css';
import { ema } from '../smoothing.js';
import { align, loadChart, nearest, sortByX, xKeyOf, type ChartX, type RunSeries, type Zoom } from './chart-data.js';
import { alpha, colorOf, fmtDuration, fmtNum, fmtTick } from './chart-colors.js';
import { useWidth } from './use-width.js';

export type { ChartX } from './chart-data.js';
export interface ChartRun {
  runId: string;
  label: string;
  color?: string;
  /** The status the page last read: while a run is RUNNING the chart follows the page's reloadKey. */
  status?: string;
}
export interface MetricChartProps {
  runs: ChartRun[];
  metricKey: string;
  x?: ChartX;
  logX?: boolean;
  logY?: boolean;
  /** TensorBoard's debiased EMA weight, 0..0.999. */
  smoothing?: number;
  height?: number;
  /**
   * Changes on each of the page's polls: while any run is RUNNING the chart re-reads its data on each
   * change (it grows as points arrive), and once more when none is, for the last points.
   */
  reloadKey?: number;
  title?: string;
}

const MAX_CELLS = 30_000;

/**
 * One metric of several runs, overlaid: the sampled read fetches at most one bucket per pixel; each run
 * draws its buckets' last values (smoothed if asked) over a min/max band. Drag to zoom (refetches the
 * range at full resolution), double-click to zoom out, click a legend entry to hide a run.
 */
export function MetricChart(props: MetricChartProps): JSX.Element {
  const { runs, metricKey, x = 'step', logX = false, logY = false, smoothing = 0, height = 240, reloadKey, title } = props;
  const xKey = xKeyOf(x);
  const runKey = runs.map((r) => `${r.runId}:${r.color ?? ''}:${r.label}`).join(',');
  const plotEl = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const offsets = useRef(new Map<string, number>());
  const width = useWidth(plotEl);
  const [raw, setRaw] = useState<RunSeries[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [zoom, setZoom] = useState<Zoom | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [hover, setHover] = useState<{ x: number; values: (number | null)[] } | null>(null);
  const rawRef = useRef(raw);
  rawRef.current = raw;
  // One bucket per pixel at most; with many runs fewer, so the aligned table stays small (runs' x differ).
  const buckets = Math.max(50, Math.min(10_000, Math.floor(width / 25) * 25 || 50, Math.max(100, Math.floor(MAX_CELLS / Math.max(1, runs.length) / 25) * 25)));

  // A new axis or run set starts unzoomed.
  useEffect(() => setZoom(null), [xKey, runKey, metricKey]);

  // The page already re-reads its runs on a poll; the chart follows it instead of asking for their status itself.
  // Leaving RUNNING also changes liveKey, so the points logged just before the end are read too.
  const liveKey = runs.some((r) => r.status === 'RUNNING') ? reloadKey : undefined;

  useEffect(() => {
    if (!width) return;
    let cancelled = false;
    loadChart({ runIds: runs.map((r) => r.runId), key: metricKey, x, buckets, zoom, prev: rawRef.current, offsets: offsets.current }).then(
      (d) => {
        if (cancelled) return;
        setRaw(d);
        setError(null);
      },
      (e: Error) => !cancelled && setError(e.message),
    );
    return () => void (cancelled = true);
  }, [runKey, metricKey, xKey, buckets, zoom?.min, zoom?.max, liveKey, width > 0]);

  // Per run, in the order of `runs` (null where the run has no points for this key).
  const drawn = useMemo(() => {
    if (!raw) return null;
    return runs.map((r) => {
      const s = raw.find((q) => q.runId === r.runId);
      if (!s || s.x.length === 0) return null;
      const sm = smoothing > 0 ? { ...s, y: ema(s.y, smoothing) } : s;
      return typeof x === 'string' ? sm : sortByX(sm);
    });
  }, [raw, smoothing, runKey]);
  const data = useMemo(() => (drawn ? align(drawn, logX, logY) : null), [drawn, logX, logY]);

  // The uPlot instance: rebuilt when its structure changes, fed new data otherwise.
  useEffect(() => {
    if (!data || !width || !plotEl.current) return;
    const series: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    runs.forEach((r, i) => {
      const c = colorOf(i, r.color);
      series.push(
        { label: r.label, stroke: c, width: 1.5, spanGaps: true, points: { show: typeof x !== 'string' ? true : false, size: 3 } },
        { label: `${r.label} min`, stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } },
        { label: `${r.label} max`, stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } },
      );
      bands.push({ series: [3 + 3 * i, 2 + 3 * i], fill: alpha(c, 0.16) });
    });
    // On a log axis with many ticks only the powers of ten get a label.
    const ticks = (log: boolean) => (_u: uPlot, splits: number[]) =>
      splits.map((s) => (s === null ? '' : log && splits.length > 6 && Math.abs(Math.log10(s) - Math.round(Math.log10(s))) > 1e-6 ? '' : fmtTick(s)));
    const xAxis: uPlot.Axis = { stroke: '#6b7385', grid: { stroke: '#eef0f3' } };
    if (x === 'relative') xAxis.values = (_u, splits) => splits.map((s) => fmtDuration(s));
    else if (typeof x !== 'string') xAxis.values = ticks(logX);
    const opts: uPlot.Options = {
      width,
      height,
      series,
      bands,
      legend: { show: false },
      scales: { x: { time: x === 'time', distr: logX ? 3 : 1, log: 10 }, y: { distr: logY ? 3 : 1, log: 10 } },
      axes: [xAxis, { stroke: '#6b7385', grid: { stroke: '#eef0f3' }, size: 56, values: ticks(logY) }],
      cursor: { drag: { x: true, y: false, setScale: true }, bind: { dblclick: () => null }, points: { size: 6 } },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 2) return;
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            setZoom({ min, max });
          },
        ],
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            if (i === null || i === undefined) return setHover(null);
            const vals = runs.map((_, k) => nearest(u.data[1 + 3 * k], i));
            setHover({ x: u.data[0][i], values: vals });
          },
        ],
      },
    };
    const u = new uPlot(opts, data, plotEl.current);
    plot.current = u;
    const onDbl = () => setZoom(null);
    u.over.addEventListener('dblclick', onDbl);
    u.over.addEventListener('mouseleave', () => setHover(null));
    return () => {
      u.destroy();
      plot.current = null;
    };
  }, [runKey, xKey, logX, logY, width, height, data === null]);

  useEffect(() => {
    const u = plot.current;
    if (!u || !data) return;
    if (zoom) {
      u.setData(data, false);
      u.setScale('x', zoom);
    } else u.setData(data, true);
  }, [data]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    runs.forEach((r, i) => {
      const show = !hidden.has(r.runId);
      for (let k = 1; k <= 3; k++) if (u.series[3 * i + k].show !== show) u.setSeries(3 * i + k, { show });
    });
  }, [hidden, plot.current, data === null]);

  const toggle = (id: string) => {
    const next = new Set(hidden);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setHidden(next);
  };
  const withData = drawn ? drawn.filter((s, i) => s && !hidden.has(runs[i].runId)).length : 0;
  const points = drawn ? drawn.reduce((n, s) => n + (s ? s.x.length : 0), 0) : 0;
  const first = drawn?.find((s) => s !== null) ?? null;
  const lastVal = (s: RunSeries | null) => (s && s.y.length ? s.y[s.y.length - 1] : null);
  const xLabel = x === 'time' ? 'wall time' : x === 'relative' ? 'relative time' : typeof x === 'string' ? 'step' : x.metric;
  const hoverX = hover === null ? null : x === 'time' ? new Date(hover.x * 1000).toLocaleString() : x === 'relative' ? fmtDuration(hover.x) : fmtNum(hover.x);

  return (
    <div
      class="mchart"
      data-metric={metricKey}
      data-x-key={xKey}
      data-series-count={withData}
      data-points={points}
      data-first-x={first ? first.x[0] : ''}
      data-last-y={first ? lastVal(first) ?? '' : ''}
      data-zoomed={zoom ? '1' : '0'}
      data-zoom={zoom ? `${zoom.min},${zoom.max}` : ''}
      data-buckets={buckets}
      data-loaded={raw ? '1' : '0'}
    >
      <div class="mchart-head">
        <span title={title ?? metricKey}>{title ?? metricKey}</span>
        <span class="muted">
          {hover ? `${xLabel} ${hoverX}` : `x: ${xLabel}`}
          {zoom && (
            <>
              {' · '}
              <a href="#" onClick={(e) => (e.preventDefault(), setZoom(null))}>
                reset zoom
              </a>
            </>
          )}
        </span>
      </div>
      {error && <div class="error">{error}</div>}
      {raw && points === 0 && (
        <div class="mchart-empty" style={{ height: `${height}px` }}>
          no points{typeof x === 'string' ? '' : ` with both ${metricKey} and ${x.metric}`}
        </div>
      )}
      <div class="mchart-plot" ref={plotEl} style={{ minHeight: `${raw && points === 0 ? 0 : height}px` }} />
      <div class="mchart-legend">
        {runs.map((r, i) => {
          const s = drawn?.[i] ?? null;
          if (drawn && !s) return null;
          const v = hover ? hover.values[i] : lastVal(s);
          return (
            <span key={r.runId} class={`item${hidden.has(r.runId) ? ' off' : ''}`} onClick={() => toggle(r.runId)} data-run-id={r.runId} title="click to show or hide">
              <LegendEntry run={r} i={i} value={v} />
            </span>
          );
        })}
      </div>
    </div>
  );
}

/** A legend entry's swatch, label and value: the same in a chart and in its skeleton. */
function LegendEntry({ run, i, value }: { run: ChartRun; i: number; value: number | null }) {
  return (
    <>
      <span class="sw" style={{ background: colorOf(i, run.color) }} />
      {run.label}
      <span class="val">{fmtNum(value)}</span>
    </>
  );
}

/**
 * A chart not mounted yet (it waits to scroll into view): the same frame, head, plot box and legend
 * line as MetricChart before its data, so mounting it, and its data arriving, move nothing below.
 */
export function ChartSkeleton({ runs, title, height = 240 }: { runs: ChartRun[]; title: string; height?: number }): JSX.Element {
  return (
    <div class="mchart mchart-skeleton">
      <div class="mchart-head">
        <span title={title}>{title}</span>
        <span class="muted">{'\u00a0'}</span>
      </div>
      <div class="mchart-plot chart-placeholder" style={{ height: `${height}px` }} />
      <div class="mchart-legend">
        {runs.map((r, i) => (
          <span key={r.runId} class="item">
            <LegendEntry run={r} i={i} value={null} />
          </span>
        ))}
      </div>
    </div>
  );
}
