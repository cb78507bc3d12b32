import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Run } from '../api.js';
import { setQuery } from '../router.js';
import { MetricChart } from '../components/chart.js';
import { CompareTable } from '../components/compare-params.js';
import { chartRuns, differs, fetchRuns, keysByCommonness, makeAxis, MAX_COMPARE, parseX, toCRuns } from '../components/compare-model.js';
import { brushed, ParallelCoords, type Brushes } from '../components/parallel-coords.js';
import { Scatter } from '../components/scatter.js';
import { CompareImages } from '../components/image-gallery.js';
import { LrRangeCharts } from '../components/lr-range-chart.js';
import '../components/compare-style.css';

const POLL_MS = 2000;
const DEFAULT_CHARTS = 12;
const MAX_CHARTS = 40;

function parseBrushes(v: string | null): Brushes {
  try {
    const b = v ? JSON.parse(v) : {};
    return b && typeof b === 'object' ? b : {};
  } catch {
    return {};
  }
}

/**
 * /compare?runs=a,b&x=step|time|relative|metric:<key>&logx=1&logy=1&smooth=0.6&keys=k1,k2&kf=<filter>
 * &pcm=<metric>&brush=<json>&only=1&sx=<param>&sy=<metric>&img=<image key>&istep=<step>: every setting lives in the URL.
 */
/** A <select> of keys bound to one URL parameter. */
function KeySelect(props: { name: string; value: string; keys: string[]; onChange(value: string): void }) {
  return (
    <select name={props.name} value={props.value} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}>
      {props.keys.map((k) => (
        <option value={k}>{k}</option>
      ))}
    </select>
  );
}

export function ComparePage({ query }: { query: URLSearchParams }) {
  const ids = [...new Set((query.get('runs') ?? '').split(',').map((s) => s.trim()).filter(Boolean))];
  const tooMany = ids.length > MAX_COMPARE;
  const idKey = ids.slice(0, MAX_COMPARE).join(',');
  const x = parseX(query.get('x'));
  const xVal = typeof x === 'string' ? x : `metric:${x.metric}`;
  const logX = query.get('logx') === '1';
  const logY = query.get('logy') === '1';
  const smooth = Math.min(0.999, Math.max(0, Number(query.get('smooth') ?? 0) || 0));
  const keyFilter = query.get('kf') ?? '';
  const brushes = parseBrushes(query.get('brush'));
  const onlyBrushed = query.get('only') === '1';

  const [raw, setRaw] = useState<Run[] | null>(null);
  const [missing, setMissing] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loads, setLoads] = useState(0); // bumps on every (re)load, so the image galleries pick up new steps
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setRaw(null);
    const load = async () => {
      try {
        const got = await fetchRuns(idKey ? idKey.split(',') : []);
        if (!live) return;
        setRaw(got.runs);
        setMissing(got.missing);
        setLoads((n) => n + 1);
        setError(null);
        // Latest values and statuses stay current while a run is RUNNING.
        if (got.runs.some((r) => r.info.status === 'RUNNING')) timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (live) setError((e as Error).message);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [idKey]);

  const runs = useMemo(() => (raw ? toCRuns(raw) : []), [raw]);
  const metricKeys = useMemo(() => keysByCommonness(runs, (r) => r.metrics.keys()), [runs]);
  const paramKeys = useMemo(() => keysByCommonness(runs, (r) => r.params.keys()).sort((a, b) => a.localeCompare(b)), [runs]);
  const diffParams = useMemo(() => paramKeys.filter((k) => differs(runs, (r) => r.params.get(k))), [paramKeys, runs]);

  const pcMetric = query.get('pcm') ?? metricKeys[0] ?? '';
  const axes = useMemo(() => {
    const a = (diffParams.length ? diffParams : paramKeys).slice(0, 12).map((k) => makeAxis(runs, k, 'param'));
    if (pcMetric && metricKeys.includes(pcMetric)) a.push(makeAxis(runs, pcMetric, 'metric'));
    return a;
  }, [runs, diffParams, paramKeys, pcMetric, metricKeys]);
  const matching = useMemo(() => (Object.keys(brushes).length ? brushed(runs, axes, brushes) : null), [runs, axes, query.get('brush')]);

  const sx = query.get('sx') ?? diffParams[0] ?? paramKeys[0] ?? '';
  const sy = query.get('sy') ?? metricKeys[0] ?? '';
  const scatterX = sx && paramKeys.includes(sx) ? makeAxis(runs, sx, 'param') : null;
  const scatterY = sy && metricKeys.includes(sy) ? makeAxis(runs, sy, 'metric') : null;

  const explicit = (query.get('keys') ?? '').split(',').filter(Boolean);
  const shownKeys = explicit.length
    ? explicit
    : keyFilter
      ? metricKeys.filter((k) => k.toLowerCase().includes(keyFilter.toLowerCase())).slice(0, MAX_CHARTS)
      : metricKeys.slice(0, DEFAULT_CHARTS);
  const chartSet = chartRuns(onlyBrushed && matching ? runs.filter((r) => matching.has(r.id)) : runs);
  const anyRunning = runs.some((r) => r.status === 'RUNNING');
  const imageRuns = useMemo(
    () =>
      (raw ?? []).slice(0, MAX_COMPARE).map((r, i) => ({
        runId: r.info.run_id,
        label: runs[i]?.label ?? r.info.run_name ?? r.info.run_id,
        imagesTag: r.data.tags?.find((t) => t.key === 'lablog.images')?.value,
      })),
    [raw, runs],
  );
  const istepRaw = query.get('istep');
  const istep = istepRaw !== null && istepRaw !== '' && Number.isFinite(Number(istepRaw)) ? Number(istepRaw) : null;

  if (ids.length === 0) return <div class="card">Select runs on a runs page and press Compare, or open /compare?runs=&lt;id&gt;,&lt;id&gt;.</div>;
  if (error) return <div class="card error">{error}</div>;
  if (!raw) return <div class="muted">Loading {ids.length} runs…</div>;
  const set = (k: string, v: string | null) => setQuery({ [k]: v });

  return (
    <div class="compare" data-runs={runs.length}>
      <h1>
        Compare {runs.length} runs {anyRunning && <span class="status-RUNNING cmp-live">● live</span>}
      </h1>
      {tooMany && <div class="card error">Only the first {MAX_COMPARE} of {ids.length} runs are compared.</div>}
      {missing.length > 0 && <div class="card error">Not found: {missing.join(', ')}</div>}
      <div class="toolbar compare-controls">
        <label>
          x-axis{' '}
          <select name="x" value={xVal} onChange={(e) => set('x', (e.currentTarget as HTMLSelectElement).value)}>
            <option value="step">step</option>
            <option value="time">wall time</option>
            <option value="relative">relative time</option>
            {metricKeys.map((k) => (
              <option value={`metric:${k}`}>metric: {k}</option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" name="logx" checked={logX} onChange={(e) => set('logx', (e.currentTarget as HTMLInputElement).checked ? '1' : null)} /> log x
        </label>
        <label>
          <input type="checkbox" name="logy" checked={logY} onChange={(e) => set('logy', (e.currentTarget as HTMLInputElement).checked ? '1' : null)} /> log y
        </label>
        <label class="smooth">
          smoothing{' '}
          <input type="range" name="smooth" min="0" max="0.99" step="0.01" value={smooth} onInput={(e) => set('smooth', (e.currentTarget as HTMLInputElement).value === '0' ? null : (e.currentTarget as HTMLInputElement).value)} />{' '}
          <span class="num">{smooth.toFixed(2)}</span>
        </label>
        <input type="search" name="kf" placeholder={`filter ${metricKeys.length} metric keys`} value={keyFilter} onInput={(e) => set('kf', (e.currentTarget as HTMLInputElement).value || null)} />
        {matching && (
          <label>
            <input type="checkbox" name="only" checked={onlyBrushed} onChange={(e) => set('only', (e.currentTarget as HTMLInputElement).checked ? '1' : null)} /> charts: brushed runs only
          </label>
        )}
        {explicit.length > 0 && (
          <button onClick={() => set('keys', null)}>show all keys</button>
        )}
      </div>
      {shownKeys.length < metricKeys.length && !explicit.length && (
        <div class="muted small">
          Showing {shownKeys.length} of {metricKeys.length} metric keys (keys in most runs first); filter to see others.
        </div>
      )}
      <LrRangeCharts runs={raw} />
      <div class="compare-charts">
        {shownKeys.map((k) => (
          <MetricChart key={k} runs={chartSet} metricKey={k} x={x} logX={logX} logY={logY} smoothing={smooth} reloadKey={loads} height={220} />
        ))}
        {shownKeys.length === 0 && <div class="muted">No metrics{keyFilter ? ` match “${keyFilter}”` : ''}.</div>}
      </div>
      <h2>Parameters and metrics</h2>
      <div class="card">
        <CompareTable runs={runs} paramKeys={paramKeys} metricKeys={metricKeys} highlight={matching} />
      </div>
      <h2>Parallel coordinates</h2>
      <div class="card">
        <div class="toolbar">
          <label>
            metric{' '}
            <KeySelect name="pcm" value={pcMetric} keys={metricKeys} onChange={(v) => set('pcm', v)} />
          </label>
          <span class="muted">axes: the params that differ between the runs (up to 12) and the metric's latest value</span>
        </div>
        <ParallelCoords runs={runs} axes={axes} brushes={brushes} onBrush={(b) => set('brush', Object.keys(b).length ? JSON.stringify(b) : null)} />
      </div>
      <h2>Scatter</h2>
      <div class="card">
        <div class="toolbar">
          <label>
            param{' '}
            <KeySelect name="sx" value={sx} keys={paramKeys} onChange={(v) => set('sx', v)} />
          </label>
          <label>
            metric{' '}
            <KeySelect name="sy" value={sy} keys={metricKeys} onChange={(v) => set('sy', v)} />
          </label>
        </div>
        <Scatter runs={runs} x={scatterX} y={scatterY} highlight={matching} />
      </div>
      <h2>Images</h2>
      <div class="compare-images">
        <CompareImages
          runs={imageRuns}
          imageKey={query.get('img')}
          step={istep}
          reloadKey={anyRunning ? loads : 0}
          onChange={(c) => {
            const q: Record<string, string | null> = {};
            if (c.key !== undefined) q.img = c.key;
            if (c.step !== undefined) q.istep = c.step === null ? null : String(c.step);
            setQuery(q);
          }}
        />
      </div>
    </div>
  );
}
