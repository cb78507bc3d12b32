import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Caller } from '../auth/permissions.js';
import type { RegistryService } from '../tracking/registry.service.js';
import { MLFLOW_PREFIXES } from './prefixes.js';
import {
  aliasBody,
  aliasDeleteBody,
  aliasQuery,
  createModelBody,
  latestBody,
  latestQuery,
  modelTagBody,
  modelTagDeleteBody,
  nameBody,
  nameQuery,
  renameBody,
  searchBody,
  searchQuery,
  updateModelBody,
} from './registry.schemas.js';
import { modelVersionJson, registeredModelJson } from './registry.wire.js';
import { decodePageToken, withToken } from './wire.js';

/** MLflow's registered-models endpoints (model_registry.proto), under /api/2.0 and /ajax-api/2.0. */
export async function registeredModelRoutes(app: FastifyInstance, opts: { registry: RegistryService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.registry;

  async function search(caller: Caller, q: z.infer<typeof searchBody>) {
    const page = await svc.searchRegisteredModels(caller, { filter: q.filter, orderBy: q.order_by, offset: decodePageToken(q.page_token), maxResults: q.max_results });
    return withToken({ registered_models: page.items.map(registeredModelJson) }, page.nextOffset);
  }
  async function latest(caller: Caller, name: string, stages: string[]) {
    const versions = await svc.getLatestVersions(caller, name, stages);
    return versions.length ? { model_versions: versions.map(modelVersionJson) } : {};
  }

  for (const p of MLFLOW_PREFIXES) {
    const base = `${p}/registered-models`;
    r.post(`${base}/create`, { schema: { body: createModelBody } }, async (req) => ({
      registered_model: registeredModelJson(await svc.createRegisteredModel(req.caller!, req.body)),
    }));
    r.get(`${base}/get`, { schema: { querystring: nameQuery } }, async (req) => ({
      registered_model: registeredModelJson(await svc.getRegisteredModel(req.caller!, req.query.name)),
    }));
    r.post(`${base}/rename`, { schema: { body: renameBody } }, async (req) => ({
      registered_model: registeredModelJson(await svc.renameRegisteredModel(req.caller!, req.body.name, req.body.new_name)),
    }));
    r.patch(`${base}/update`, { schema: { body: updateModelBody } }, async (req) => ({
      registered_model: registeredModelJson(await svc.updateRegisteredModel(req.caller!, req.body.name, req.body.description)),
    }));
    r.delete(`${base}/delete`, { schema: { body: nameBody } }, async (req) => {
      await svc.deleteRegisteredModel(req.caller!, req.body.name);
      return {};
    });
    r.get(`${base}/search`, { schema: { querystring: searchQuery } }, (req) => search(req.caller!, req.query));
    // The proto lists POST first (what the Python client sends) and GET too.
    r.post(`${base}/get-latest-versions`, { schema: { body: latestBody } }, (req) => latest(req.caller!, req.body.name, req.body.stages));
    r.get(`${base}/get-latest-versions`, { schema: { querystring: latestQuery } }, (req) => latest(req.caller!, req.query.name, req.query.stages));
    r.post(`${base}/set-tag`, { schema: { body: modelTagBody } }, async (req) => {
      await svc.setRegisteredModelTag(req.caller!, req.body.name, { key: req.body.key, value: req.body.value });
      return {};
    });
    r.delete(`${base}/delete-tag`, { schema: { body: modelTagDeleteBody } }, async (req) => {
      await svc.deleteRegisteredModelTag(req.caller!, req.body.name, req.body.key);
      return {};
    });
    r.post(`${base}/alias`, { schema: { body: aliasBody } }, async (req) => {
      await svc.setAlias(req.caller!, req.body.name, req.body.alias, req.body.version);
      return {};
    });
    r.delete(`${base}/alias`, { schema: { body: aliasDeleteBody } }, async (req) => {
      await svc.deleteAlias(req.caller!, req.body.name, req.body.alias);
      return {};
    });
    r.get(`${base}/alias`, { schema: { querystring: aliasQuery } }, async (req) => ({
      model_version: modelVersionJson(await svc.getModelVersionByAlias(req.caller!, req.query.name, req.query.alias)),
    }));
  }
}
