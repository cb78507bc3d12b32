import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { MetricService } from '../tracking/metrics.service.js';
import { LABLOG_PREFIX, MLFLOW_PREFIXES, runIdOf } from './prefixes.js';
import { mlflowRequired } from '../http/validation-messages.js';
import { EX, queryInt, requiredString, runRef, stringList, withExamples } from './schemas.js';
import type { Series } from '../store/types.js';
import { decodePageToken, metricJson, metricListJson, metricsBody, metricsBodyPieces, nonEmpty, wireDouble } from './wire.js';

// Fields in the order of MLflow's handler schema dicts: the first failing one is the one reported.
const historyQuery = withExamples(
  z.object({ ...runRef, metric_key: requiredString, max_results: queryInt, page_token: z.string().optional() }),
  { run_id: EX.run, metric_key: 'val_loss', max_results: '1000' },
);
const bulkIntervalQuery = withExamples(z.object({
  run_ids: mlflowRequired(stringList),
  metric_key: requiredString,
  start_step: queryInt,
  end_step: queryInt,
  max_results: queryInt,
}), { run_ids: EX.run, metric_key: 'val_loss', start_step: '0', end_step: '100', max_results: '500' });
// A Flask route in MLflow: the handler checks run_id, then metric_key, in this order (see the route).
const bulkQuery = withExamples(
  z.object({ run_id: stringList, metric_key: z.string().optional(), max_results: queryInt }),
  { run_id: EX.run, metric_key: 'val_loss', max_results: '1000' },
);
export const sampledQuery = withExamples(z.object({
  run_ids: stringList,
  keys: stringList,
  x: z.enum(['step', 'time']).default('step'),
  start: queryInt,
  end: queryInt,
  buckets: z.preprocess((v) => (v === undefined ? '1000' : v), queryInt).pipe(z.number().int().min(1).max(10_000)),
}), { run_ids: EX.run, keys: 'val_loss', x: 'step', buckets: '500' });

const BULK_MAX_RESULTS = 25_000;
/** Histories longer than this are streamed in pieces instead of sent as one string. */
const STREAM_ABOVE = 10_000;

export async function metricRoutes(app: FastifyInstance, opts: { metrics: MetricService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.metrics;

  for (const p of MLFLOW_PREFIXES) {
    r.get(`${p}/metrics/get-history`, { schema: { querystring: historyQuery } }, async (req, reply) => {
      const limit = req.query.max_results ?? null;
      if (limit !== null && limit < 1) throw invalid(`Invalid value ${limit} for parameter 'max_results' supplied. It must be a positive integer`);
      const key = req.query.metric_key;
      const page = await svc.streamHistory(req.caller!, runIdOf(req.query), key, decodePageToken(req.query.page_token), limit);
      reply.type('application/json');
      const body = metricsBodyPieces(key, page.pieces, page.nextOffset);
      // A short history goes out as one string (with a Content-Length); the same pieces either way.
      return reply.send(page.count <= STREAM_ABOVE ? [...body].join('') : Readable.from(body));
    });
    r.get(`${p}/metrics/get-history-bulk-interval`, { schema: { querystring: bulkIntervalQuery } }, async (req) => {
      const points = await svc.bulkInterval(req.caller!, {
        runIds: req.query.run_ids,
        key: req.query.metric_key,
        startStep: req.query.start_step,
        endStep: req.query.end_step,
        maxResults: req.query.max_results,
      });
      return nonEmpty({ metrics: points.map((m) => ({ ...metricJson(m), run_id: m.runId })) });
    });
    // MLflow's UI route (a Flask route, not in the proto): every point of up to 100 runs.
    r.get(`${p}/metrics/get-history-bulk`, { schema: { querystring: bulkQuery } }, async (req, reply) => {
      // handlers.py get_metric_history_bulk_handler: these checks, in this order, with these words.
      const runIds = req.query.run_id;
      if (runIds.length === 0) throw invalid('GetMetricHistoryBulk request must specify at least one run_id.');
      if (runIds.length > 100) throw invalid(`GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received ${runIds.length} run_ids.`);
      const metricKey = req.query.metric_key;
      if (metricKey === undefined) throw invalid('GetMetricHistoryBulk request must specify a metric_key.');
      // MLflow clamps max_results to 25000; below 1 it would return nothing, lablog refuses it.
      const limit = Math.min(req.query.max_results ?? BULK_MAX_RESULTS, BULK_MAX_RESULTS);
      if (limit < 1) throw invalid(`Invalid value ${limit} for parameter 'max_results' supplied. It must be a positive integer`);
      const lists: string[] = [];
      for (const runId of runIds) {
        const { points } = await svc.history(req.caller!, runId, metricKey, 0, null);
        const list = metricListJson(metricKey, sortByTime(points, limit), runId);
        if (list) lists.push(list);
      }
      return reply.type('application/json').send(metricsBody(lists.join(',')));
    });
  }

  // lablog's sampled read: per bucket min, max and last with their x, columnar to keep the payload small.
  r.get(`${LABLOG_PREFIX}/metrics/sampled`, { schema: { querystring: sampledQuery } }, async (req) => {
    const q = req.query;
    const series = await svc.sampled(req.caller!, { runIds: q.run_ids, keys: q.keys, x: q.x, start: q.start ?? null, end: q.end ?? null, buckets: q.buckets });
    return {
      x: q.x,
      series: series.map((s) => ({
        run_id: s.runId,
        key: s.key,
        min_x: s.buckets.map((b) => b.minX),
        min: s.buckets.map((b) => wireDouble(b.min)),
        max_x: s.buckets.map((b) => b.maxX),
        max: s.buckets.map((b) => wireDouble(b.max)),
        last_x: s.buckets.map((b) => b.lastX),
        last: s.buckets.map((b) => wireDouble(b.last)),
        count: s.buckets.map((b) => b.count),
      })),
    };
  });
}

/** get-history-bulk orders each run's points by (timestamp, step, value), as MLflow does. */
function sortByTime(s: Series, limit: number): Series {
  const idx = Array.from({ length: s.values.length }, (_, i) => i);
  idx.sort((a, b) => s.timestamps[a] - s.timestamps[b] || s.steps[a] - s.steps[b] || s.values[a] - s.values[b]);
  idx.length = Math.min(idx.length, limit);
  return {
    steps: Float64Array.from(idx, (i) => s.steps[i]),
    timestamps: Float64Array.from(idx, (i) => s.timestamps[i]),
    values: Float64Array.from(idx, (i) => s.values[i]),
  };
}
