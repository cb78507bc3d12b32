import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Caller } from '../auth/permissions.js';
import type { ArtifactService } from '../tracking/artifacts.service.js';
import type { RegistryService } from '../tracking/registry.service.js';
import { sendArtifact } from './artifact-download.js';
import { MLFLOW_PREFIXES } from './prefixes.js';
import {
  createVersionBody,
  searchBody,
  searchQuery,
  transitionBody,
  updateVersionBody,
  versionBody,
  versionQuery,
  versionTagBody,
  versionTagDeleteBody,
  versionArtifactQuery,
} from './registry.schemas.js';
import { modelVersionJson } from './registry.wire.js';
import { decodePageToken, withToken } from './wire.js';

/** MLflow's model-versions endpoints (model_registry.proto), under /api/2.0 and /ajax-api/2.0. */
export async function modelVersionRoutes(app: FastifyInstance, opts: { registry: RegistryService; artifacts: ArtifactService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.registry;

  async function search(caller: Caller, q: z.infer<typeof searchBody>) {
    const page = await svc.searchModelVersions(caller, { filter: q.filter, orderBy: q.order_by, offset: decodePageToken(q.page_token), maxResults: q.max_results });
    return withToken({ model_versions: page.items.map(modelVersionJson) }, page.nextOffset);
  }

  // MLflow's UI route (a Flask route beside get-artifact, no /api prefix): one file of a version's
  // artifacts, always as an attachment.
  r.get('/model-versions/get-artifact', { schema: { querystring: versionArtifactQuery } }, async (req, reply) => {
    const uri = await svc.getDownloadUri(req.caller!, req.query.name, req.query.version);
    return sendArtifact(req, reply, await opts.artifacts.fileUnder(uri, req.query.path), { attachment: true });
  });

  for (const p of MLFLOW_PREFIXES) {
    const base = `${p}/model-versions`;
    r.post(`${base}/create`, { schema: { body: createVersionBody } }, async (req) => ({
      model_version: modelVersionJson(
        await svc.createModelVersion(req.caller!, {
          name: req.body.name,
          source: req.body.source,
          runId: req.body.run_id,
          runLink: req.body.run_link,
          description: req.body.description,
          tags: req.body.tags,
        }),
      ),
    }));
    r.get(`${base}/get`, { schema: { querystring: versionQuery } }, async (req) => ({
      model_version: modelVersionJson(await svc.getModelVersion(req.caller!, req.query.name, req.query.version)),
    }));
    r.patch(`${base}/update`, { schema: { body: updateVersionBody } }, async (req) => ({
      model_version: modelVersionJson(await svc.updateModelVersion(req.caller!, req.body.name, req.body.version, req.body.description)),
    }));
    r.post(`${base}/transition-stage`, { schema: { body: transitionBody } }, async (req) => ({
      model_version: modelVersionJson(
        await svc.transitionStage(req.caller!, req.body.name, req.body.version, req.body.stage, req.body.archive_existing_versions),
      ),
    }));
    r.delete(`${base}/delete`, { schema: { body: versionBody } }, async (req) => {
      await svc.deleteModelVersion(req.caller!, req.body.name, req.body.version);
      return {};
    });
    r.get(`${base}/get-download-uri`, { schema: { querystring: versionQuery } }, async (req) => ({
      artifact_uri: await svc.getDownloadUri(req.caller!, req.query.name, req.query.version),
    }));
    r.get(`${base}/search`, { schema: { querystring: searchQuery } }, (req) => search(req.caller!, req.query));
    r.post(`${base}/set-tag`, { schema: { body: versionTagBody } }, async (req) => {
      await svc.setModelVersionTag(req.caller!, req.body.name, req.body.version, { key: req.body.key, value: req.body.value });
      return {};
    });
    r.delete(`${base}/delete-tag`, { schema: { body: versionTagDeleteBody } }, async (req) => {
      await svc.deleteModelVersionTag(req.caller!, req.body.name, req.body.version, req.body.key);
      return {};
    });
  }
}
