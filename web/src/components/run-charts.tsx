import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ChartSkeleton, MetricChart, type ChartRun } from './chart.js';

const CHART_HEIGHT = 220;

/**
 * One chart per metric key, each mounted only once it scrolls near the viewport (a run can have
 * thousands of keys; charts nobody looks at never fetch anything).
 */
export function RunCharts(props: { runId: string; label: string; status: string; keys: string[]; reloadKey: number }) {
  const { runId, label, status, keys, reloadKey } = props;
  const [filter, setFilter] = useState('');
  const runs = useMemo(() => [{ runId, label, status }], [runId, label, status]);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return [...keys].sort((a, b) => a.localeCompare(b)).filter((k) => !f || k.toLowerCase().includes(f));
  }, [keys, filter]);
  if (keys.length === 0) return <p class="muted">No metrics logged.</p>;
  return (
    <div>
      {keys.length > 6 && (
        <div class="toolbar">
          <input placeholder={`Filter ${keys.length} metrics`} value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
          <span class="muted">{shown.length} shown</span>
        </div>
      )}
      <div class="chart-grid" data-testid="run-charts">
        {shown.map((k) => (
          <LazyChart key={k} metricKey={k} runs={runs} reloadKey={reloadKey} />
        ))}
      </div>
    </div>
  );
}

function LazyChart({ metricKey, runs, reloadKey }: { metricKey: string; runs: ChartRun[]; reloadKey: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || visible) return;
    if (typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return;
    }
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setVisible(true);
          io.disconnect();
        }
      },
      { rootMargin: '200px 0px' },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [visible]);
  // The card is as tall before it mounts as after its data arrives: the skeleton has the chart's frame.
  return (
    <div ref={ref} class="chart-card" data-testid="metric-chart" data-key={metricKey} data-mounted={visible ? 'true' : 'false'}>
      {visible ? <MetricChart runs={runs} metricKey={metricKey} height={CHART_HEIGHT} reloadKey={reloadKey} /> : <ChartSkeleton runs={runs} title={metricKey} height={CHART_HEIGHT} />}
    </div>
  );
}
