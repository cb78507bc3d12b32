import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { invalid } from '../errors.js';
import type { MetricPoint, SampledQuery, Series, TrackingStore } from '../store/types.js';
import { validateKey } from './validation.js';

export const BULK_MAX_RUNS = 100;
/** Series keys in one sampled read: a run of 1,000 keys is read in one request, more in several. */
export const SAMPLED_MAX_KEYS = 1000;
export const BULK_MAX_RESULTS = 2500;

/**
 * MLflow's step sampling for get-history-bulk-interval: `maxResults` evenly spaced steps of those that
 * exist in [start, end], plus the last one. (MLflow bounds the index by the count instead of the end
 * index, which drops samples when start > 0; we sample the intended range.)
 */
export function sampleSteps(allSteps: number[], start: number, end: number, maxResults: number): Set<number> {
  const lo = lowerBound(allSteps, start);
  const hi = lowerBound(allSteps, end + 1);
  const n = hi - lo;
  if (n <= maxResults) return new Set(allSteps.slice(lo, hi));
  const interval = n / maxResults;
  const out = new Set<number>();
  for (let i = 0; i < maxResults; i++) out.add(allSteps[lo + Math.floor(i * interval)]);
  out.add(allSteps[hi - 1]);
  return out;
}

function lowerBound(xs: number[], x: number): number {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (xs[m] < x) a = m + 1;
    else b = m;
  }
  return a;
}

export function createMetricService(store: TrackingStore, access: Access) {
  // Throws 403 at the first run the caller may not read.
  const mayReadAll = async (caller: Caller, runIds: string[]) => {
    for (const id of runIds) await access.run(caller, id, 'READ');
  };
  return {
    /**
     * get-history-bulk: each run's first `limit` points by time, read run by run as the caller iterates.
     * Every run is checked first, so a missing or forbidden one is refused before the answer starts.
     */
    async earliestOfRuns(caller: Caller, runIds: string[], key: string, limit: number): Promise<AsyncIterable<{ runId: string; points: Series }>> {
      await mayReadAll(caller, runIds);
      return (async function* () {
        for (const runId of runIds) yield { runId, points: await store.getEarliestMetricPoints({ runId, key, limit }) };
      })();
    },
    async streamHistory(caller: Caller, runId: string, key: string, offset: number, limit: number | null) {
      await access.run(caller, runId, 'READ');
      return store.streamMetricHistory({ runId, key, offset, limit });
    },

    /** MLflow's get-history-bulk-interval: the same sampled steps for every run, each run's min and max step kept. */
    async bulkInterval(caller: Caller, q: { runIds: string[]; key: string; startStep?: number; endStep?: number; maxResults?: number }) {
      // handlers.py get_metric_history_bulk_interval_handler's words, in its order.
      if (q.runIds.length === 0) throw invalid("Missing value for required parameter 'run_ids'. See the API docs for more information about request parameters.");
      if (q.runIds.length > BULK_MAX_RUNS) {
        throw invalid(`GetMetricHistoryBulkInterval request must specify at most ${BULK_MAX_RUNS} run_ids. Received ${q.runIds.length} run_ids. See the API docs for more information about request parameters.`);
      }
      const maxResults = q.maxResults ?? BULK_MAX_RESULTS;
      if (maxResults < 1 || maxResults > BULK_MAX_RESULTS) {
        throw invalid(`max_results must be between 1 and ${BULK_MAX_RESULTS}. See the API docs for more information about request parameters.`);
      }
      if ((q.startStep === undefined) !== (q.endStep === undefined)) {
        throw invalid('If either start step or end step are specified, both must be specified.');
      }
      if (q.startStep !== undefined && q.endStep !== undefined && q.startStep > q.endStep) {
        throw invalid('end_step must be greater than start_step. ');
      }
      await mayReadAll(caller, q.runIds);
      const byRun = await store.getMetricRange({ runIds: q.runIds, key: q.key, startStep: null, endStep: null });
      const stepSet = new Set<number>();
      const edges = new Set<number>();
      for (const s of byRun.values()) {
        if (s.steps.length === 0) continue;
        for (const step of s.steps) stepSet.add(step);
        // Series are sorted by step: the first and last are each run's min and max.
        edges.add(s.steps[0]).add(s.steps[s.steps.length - 1]);
      }
      const allSteps = [...stepSet].sort((a, b) => a - b);
      const start = q.startStep ?? 0;
      const end = q.endStep ?? (allSteps.length > 0 ? allSteps[allSteps.length - 1] : 0);
      const chosen = sampleSteps(allSteps, start, end, maxResults);
      for (const e of edges) if (e >= start && e <= end) chosen.add(e);

      const out: (MetricPoint & { runId: string })[] = [];
      for (const runId of [...q.runIds].sort()) {
        const s = byRun.get(runId);
        let taken = 0;
        for (let i = 0; s && i < s.steps.length && taken < maxResults; i++) {
          if (!chosen.has(s.steps[i])) continue;
          out.push({ key: q.key, value: s.values[i], timestamp: s.timestamps[i], step: s.steps[i], runId });
          taken++;
        }
      }
      return out;
    },

    async sampled(caller: Caller, q: SampledQuery) {
      if (q.runIds.length === 0 || q.keys.length === 0) throw invalid("Parameters 'run_ids' and 'keys' need at least one value each.");
      if (q.runIds.length > BULK_MAX_RUNS) throw invalid(`'run_ids' may contain at most ${BULK_MAX_RUNS} run ids. Got ${q.runIds.length}.`);
      if (q.keys.length > SAMPLED_MAX_KEYS) throw invalid(`'keys' may contain at most ${SAMPLED_MAX_KEYS} metric keys. Got ${q.keys.length}.`);
      q.keys.forEach((k) => validateKey('metric', k));
      if (q.start !== null && q.end !== null && q.start > q.end) throw invalid("'start' must not be greater than 'end'.");
      await mayReadAll(caller, q.runIds);
      return store.sampleMetrics(q);
    },
  };
}

export type MetricService = ReturnType<typeof createMetricService>;
