import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Caller } from '../auth/permissions.js';
import type { ExperimentService } from '../tracking/experiments.service.js';
import { checkMaxResults, MLFLOW_PREFIXES } from './prefixes.js';
import { EX, experimentId, int64, keyValues, queryInt, requiredString, stringList, viewType, withExamples } from './schemas.js';
import { invalid } from '../errors.js';
import { decodePageToken, experimentJson, withToken } from './wire.js';

// Fields in the order of MLflow's handler schema dicts: the first failing one is the one reported.
export const createExperimentBody = withExamples(z.object({
  name: z.string(),
  artifact_location: z.string().optional(),
  tags: keyValues,
}), { name: 'fraud-model', tags: [{ key: 'team', value: 'risk' }] });
const requiredId = experimentId.refine((id) => id !== '');
const idQuery = withExamples(z.object({ experiment_id: requiredId }), { experiment_id: EX.experiment });
const byNameQuery = withExamples(z.object({ experiment_name: requiredString }), { experiment_name: 'fraud-model' });
const idBody = withExamples(z.object({ experiment_id: requiredId }), { experiment_id: EX.experiment });
const updateBody = withExamples(
  z.object({ experiment_id: requiredId, new_name: requiredString }),
  { experiment_id: EX.experiment, new_name: 'fraud-model-v2' },
);
const setTagBody = withExamples(
  z.object({ experiment_id: requiredId, key: requiredString, value: z.string().default('') }),
  { experiment_id: EX.experiment, key: 'team', value: 'risk' },
);
const deleteTagBody = withExamples(z.object({ experiment_id: requiredId, key: requiredString }), { experiment_id: EX.experiment, key: 'team' });
export const searchExperimentsBody = withExamples(z.object({
  view_type: viewType,
  max_results: int64.optional(),
  order_by: z.array(z.string()).default([]),
  filter: z.string().optional(),
  page_token: z.string().optional(),
}), { filter: "name LIKE 'fraud%'", max_results: 50, order_by: ['last_update_time DESC'], view_type: 'ACTIVE_ONLY' });
const searchExperimentsQuery = withExamples(
  searchExperimentsBody.extend({ max_results: queryInt, order_by: stringList }),
  { filter: "name LIKE 'fraud%'", max_results: '50', order_by: 'last_update_time DESC' },
);
const searchDatasetsBody = withExamples(z.object({ experiment_ids: z.array(experimentId).default([]) }), { experiment_ids: [EX.experiment] });
const listQuery = withExamples(
  z.object({ view_type: viewType, max_results: queryInt, page_token: z.string().optional() }),
  { view_type: 'ALL', max_results: '100' },
);

export async function experimentRoutes(app: FastifyInstance, opts: { experiments: ExperimentService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.experiments;

  async function search(caller: Caller, q: z.infer<typeof searchExperimentsBody>) {
    const page = await svc.search(caller, {
      filter: q.filter,
      orderBy: q.order_by,
      viewType: q.view_type,
      offset: decodePageToken(q.page_token),
      limit: checkMaxResults(q.max_results),
    });
    return withToken({ experiments: page.items.map(experimentJson) }, page.nextOffset);
  }

  // A Flask route of MLflow's UI, served under /ajax-api only (MLflow has no /api/2.0 twin of it).
  r.post(
    '/ajax-api/2.0/mlflow/experiments/search-datasets',
    {
      schema: { body: searchDatasetsBody },
      // MLflow's _validate_content_type: a body-less POST is refused before its fields are looked at.
      preValidation: async (req) => {
        if (req.headers['content-type'] === undefined) throw invalid('Bad Request. Content-Type header is missing.');
      },
    },
    async (req) => ({
      dataset_summaries: (await svc.searchDatasets(req.caller!, req.body.experiment_ids)).map((d) => ({
        experiment_id: d.experimentId,
        name: d.name,
        digest: d.digest,
        ...(d.context === null ? {} : { context: d.context }),
      })),
    }),
  );

  for (const p of MLFLOW_PREFIXES) {
    r.post(`${p}/experiments/create`, { schema: { body: createExperimentBody } }, async (req) => ({
      experiment_id: await svc.create(req.caller!, req.body.name, req.body.artifact_location, req.body.tags),
    }));
    r.get(`${p}/experiments/get`, { schema: { querystring: idQuery } }, async (req) => ({
      experiment: experimentJson(await svc.get(req.caller!, req.query.experiment_id)),
    }));
    r.get(`${p}/experiments/get-by-name`, { schema: { querystring: byNameQuery } }, async (req) => ({
      experiment: experimentJson(await svc.getByName(req.caller!, req.query.experiment_name)),
    }));
    r.post(`${p}/experiments/search`, { schema: { body: searchExperimentsBody } }, (req) => search(req.caller!, req.body));
    r.get(`${p}/experiments/search`, { schema: { querystring: searchExperimentsQuery } }, (req) => search(req.caller!, req.query));
    // Removed in MLflow 2.0, still called by older clients.
    r.get(`${p}/experiments/list`, { schema: { querystring: listQuery } }, (req) =>
      search(req.caller!, { view_type: req.query.view_type, max_results: req.query.max_results ?? 50_000, page_token: req.query.page_token, order_by: [] }),
    );
    r.post(`${p}/experiments/update`, { schema: { body: updateBody } }, async (req) => {
      await svc.rename(req.caller!, req.body.experiment_id, req.body.new_name);
      return {};
    });
    r.post(`${p}/experiments/delete`, { schema: { body: idBody } }, async (req) => {
      await svc.delete(req.caller!, req.body.experiment_id);
      return {};
    });
    r.post(`${p}/experiments/restore`, { schema: { body: idBody } }, async (req) => {
      await svc.restore(req.caller!, req.body.experiment_id);
      return {};
    });
    r.post(`${p}/experiments/set-experiment-tag`, { schema: { body: setTagBody } }, async (req) => {
      await svc.setTag(req.caller!, req.body.experiment_id, { key: req.body.key, value: req.body.value });
      return {};
    });
    r.post(`${p}/experiments/delete-experiment-tag`, { schema: { body: deleteTagBody } }, async (req) => {
      await svc.deleteTag(req.caller!, req.body.experiment_id, req.body.key);
      return {};
    });
  }
}
