import type { Series } from '../store/types.js';
import { pool, warn, type ImportContext, type MappedRun } from './import.types.js';
import { isItemFailure, type SourceClient } from './source.client.js';
import { historyPage } from './source.wire.js';

/** Page size of get-history: the value MLflow's own client pages with (GET_METRIC_HISTORY_MAX_RESULTS). */
export const HISTORY_PAGE = 25000;

/** Every point of one metric of a source run, following next_page_token (a server without paging answers all at once). */
export async function fetchHistory(source: SourceClient, runId: string, key: string): Promise<Series> {
  const steps: number[] = [];
  const timestamps: number[] = [];
  const values: number[] = [];
  let token: string | undefined;
  do {
    const page = await source.get('/api/2.0/mlflow/metrics/get-history', historyPage, { run_id: runId, metric_key: key, max_results: HISTORY_PAGE, page_token: token });
    for (const m of page.metrics) {
      steps.push(m.step);
      timestamps.push(m.timestamp);
      values.push(m.value);
    }
    token = page.next_page_token || undefined;
  } while (token);
  return { steps: Float64Array.from(steps), timestamps: Float64Array.from(timestamps), values: Float64Array.from(values) };
}

const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

/**
 * Phase 3: the full history of every metric of every run.
 *
 * Resume rule: a key's history is written in one transaction that replaces whatever the run held for
 * that key, so a stored series is always a whole copy of the source's history as it was when fetched.
 * A key is skipped (not even fetched) when lablog's stored latest point (step, timestamp, value) equals
 * the latest the source reports for it in runs/search; any other key is fetched in full and replaced.
 * So an import killed anywhere continues where it stopped, and a run that kept logging on the source
 * gets its grown series replaced. (A point added on the source below the latest step and timestamp
 * does not change the latest and is not noticed; --verify compares every point and reports it.)
 */
export async function importMetrics(ctx: ImportContext, runs: MappedRun[]): Promise<void> {
  let done = 0;
  await pool(runs, ctx.options.concurrency ?? 4, async (run) => {
    const stored = await ctx.store.seriesSummaries(run.runId);
    for (const latest of run.source.data.metrics) {
      const have = stored.get(latest.key);
      if (have && have.step === latest.step && have.timestamp === latest.timestamp && same(have.value, latest.value)) {
        ctx.summary.metricPoints.present += have.count;
        continue;
      }
      try {
        const points = await fetchHistory(ctx.source, run.runId, latest.key);
        await ctx.store.replaceMetricHistory(run.runId, latest.key, points);
        ctx.summary.metricPoints.created += points.values.length;
      } catch (err) {
        if (!isItemFailure(err)) throw err;
        warn(ctx, `run ${run.runId}: metric '${latest.key}' not copied: ${err.message}`);
      }
    }
    ctx.options.onProgress?.({ phase: 'metrics', done: ++done, total: runs.length, detail: `${ctx.summary.metricPoints.created} points copied` });
  });
}
