import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { MetricService } from '../tracking/metrics.service.js';
import { LABLOG_PREFIX, MLFLOW_PREFIXES, runIdOf } from './prefixes.js';
import { mlflowRequired } from '../http/validation-messages.js';
import { EX, queryInt, requiredString, runRef, stringList, withExamples } from './schemas.js';
import { metricsJson, tokenField, type MetricPart } from './metric-stream.js';
import type { MetricPoint } from '../store/types.js';
import { decodePageToken, wireDouble } from './wire.js';
import { lookupAnswer, type AnswerCache } from './answer-cache.js';

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

export async function metricRoutes(app: FastifyInstance, opts: { metrics: MetricService; answers?: AnswerCache | null }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.metrics;

  for (const p of MLFLOW_PREFIXES) {
    r.get(`${p}/metrics/get-history`, { schema: { querystring: historyQuery } }, async (req, reply) => {
      const limit = req.query.max_results ?? null;
      if (limit !== null && limit < 1) throw invalid(`Invalid value ${limit} for parameter 'max_results' supplied. It must be a positive integer`);
      const key = req.query.metric_key;
      const runId = runIdOf(req.query);
      const offset = decodePageToken(req.query.page_token);
      reply.type('application/json');
      const { hit, keep } = lookupAnswer(opts.answers, 'history', req.caller!, [runId, key, offset, limit]);
      if (hit !== undefined) return reply.send(hit);
      const page = await svc.streamHistory(req.caller!, runId, key, offset, limit);
      const parts = [{ key, points: page.pieces }];
      let body = metricsJson(parts, tokenField(page.nextOffset));
      // About 80 bytes a point: a history too long to keep is not gathered for keeping.
      if (keep !== null && opts.answers!.fits(page.count * 80)) body = keeping(body, keep);
      // A short history goes out as one buffer, with a Content-Length.
      return reply.send(page.count <= STREAM_ABOVE ? await collect(body) : streamOf(body));
    });
    r.get(`${p}/metrics/get-history-bulk-interval`, { schema: { querystring: bulkIntervalQuery } }, async (req, reply) => {
      const points = await svc.bulkInterval(req.caller!, {
        runIds: req.query.run_ids,
        key: req.query.metric_key,
        startStep: req.query.start_step,
        endStep: req.query.end_step,
        maxResults: req.query.max_results,
      });
      // Up to 100 runs x 2,500 points: written in pieces like a long history.
      const body = metricsJson(byRun(req.query.metric_key, points), '');
      return reply.type('application/json').send(points.length <= STREAM_ABOVE ? await collect(body) : streamOf(body));
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
      const runs = await svc.earliestOfRuns(req.caller!, runIds, metricKey, limit);
      const parts = async function* () {
        for await (const r of runs) yield { key: metricKey, runId: r.runId, points: [r.points] };
      };
      // Up to 100 x 25,000 points: each run is read when the answer reaches it, a piece per turn.
      return reply.type('application/json').send(streamOf(metricsJson(parts(), '')));
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

/** Consecutive points of the same run as one part each. */
function byRun(key: string, points: (MetricPoint & { runId: string })[]): MetricPart[] {
  const parts: MetricPart[] = [];
  for (let i = 0, j = 0; i < points.length; i = j) {
    while (j < points.length && points[j].runId === points[i].runId) j++;
    const run = points.slice(i, j);
    const series = { steps: Float64Array.from(run, (m) => m.step), timestamps: Float64Array.from(run, (m) => m.timestamp), values: Float64Array.from(run, (m) => m.value) };
    parts.push({ key, runId: points[i].runId, points: [series] });
  }
  return parts;
}

/** A stream that asks for the next piece only once the last one is written (backpressure). */
function streamOf(pieces: AsyncIterable<Buffer>): Readable {
  return Readable.from(pieces, { highWaterMark: 1 });
}

/** The pieces as they pass, and once the last has passed (not when the client left early), all of them as one. */
async function* keeping(pieces: AsyncIterable<Buffer>, done: (whole: Buffer) => void): AsyncGenerator<Buffer> {
  const all: Buffer[] = [];
  for await (const p of pieces) {
    all.push(p);
    yield p;
  }
  done(all.length === 1 ? all[0] : Buffer.concat(all));
}

async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer> {
  const all: Buffer[] = [];
  for await (const p of pieces) all.push(p);
  return Buffer.concat(all);
}
