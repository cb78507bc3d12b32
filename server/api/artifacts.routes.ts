import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { invalid, tooLarge } from '../errors.js';
import { sendError } from '../http/errors.js';
import type { ArtifactService } from '../tracking/artifacts.service.js';
import { sendArtifact } from './artifact-download.js';
import { nonEmpty } from './wire.js';
import { EX, withExamples } from './schemas.js';

/** MLflow's proxied artifact API (`mlflow server --serve-artifacts`). */
export const ARTIFACT_PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'] as const;

const listQuery = withExamples(z.object({ path: z.string().optional() }), { path: '1/' + EX.run + '/artifacts' });
const createBody = withExamples(
  z.object({ path: z.string().optional(), num_parts: z.coerce.number().int().min(1).max(10_000) }),
  { path: 'model.pkl', num_parts: 3 },
);
const completeBody = withExamples(z.object({
  path: z.string().optional(),
  upload_id: z.string(),
  parts: z.array(z.object({ part_number: z.coerce.number().int(), etag: z.string(), url: z.string().optional() })).min(1),
}), { path: 'model.pkl', upload_id: 'u-1', parts: [{ part_number: 1, etag: 'e1' }] });
const abortBody = withExamples(z.object({ path: z.string().optional(), upload_id: z.string() }), { path: 'model.pkl', upload_id: 'u-1' });

// The router decodes (and may normalise) the path before handlers see it; the raw URL still shows an
// encoded traversal, which is refused outright.
const RAW_TRAVERSAL = /(^|\/)(\.|%2e){2}(\/|$)|%2f|%5c|\\|%00/i;

export function fileInfoJson(f: { path: string; isDir: boolean; size: number | null }) {
  return f.isDir ? { path: f.path, is_dir: true } : { path: f.path, is_dir: false, file_size: f.size };
}

export async function artifactRoutes(app: FastifyInstance, opts: { artifacts: ArtifactService }) {
  const svc = opts.artifacts;
  app.addHook('onRequest', (req, reply, done) => {
    const pathPart = req.raw.url?.split('?')[0] ?? '';
    if (RAW_TRAVERSAL.test(pathPart)) {
      // MLflow's validate_path_is_safe answer.
      sendError(reply, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      return;
    }
    done();
  });

  const r = app.withTypeProvider<ZodTypeProvider>();
  for (const p of ARTIFACT_PREFIXES) {
    r.get(`${p}/artifacts`, { schema: { querystring: listQuery } }, async (req) =>
      nonEmpty({ files: (await svc.listProxied(req.caller!, req.query.path)).map(fileInfoJson) }),
    );
    r.get(`${p}/artifacts/*`, async (req, reply) => sendArtifact(req, reply, await svc.file(req.caller!, wildcard(req)), { attachment: false }));
    r.delete(`${p}/artifacts/*`, async (req) => {
      await svc.delete(req.caller!, wildcard(req));
      return {};
    });
    r.post(`${p}/mpu/create/*`, { schema: { body: createBody } }, async (req) => {
      const target = wildcard(req);
      const uploadId = await svc.createUpload(req.caller!, target);
      const base = `${req.protocol}://${req.host}${p}/mpu/upload/${uploadId}`;
      return {
        upload_id: uploadId,
        credentials: Array.from({ length: req.body.num_parts }, (_, i) => ({ url: `${base}/${i + 1}`, part_number: i + 1, headers: {} })),
      };
    });
    r.post(`${p}/mpu/complete/*`, { schema: { body: completeBody } }, async (req) => {
      await svc.completeUpload(
        req.caller!,
        req.body.upload_id,
        wildcard(req),
        req.body.parts.map((x) => ({ partNumber: x.part_number, etag: x.etag })),
      );
      return {};
    });
    r.post(`${p}/mpu/abort/*`, { schema: { body: abortBody } }, async (req) => {
      await svc.abortUpload(req.caller!, req.body.upload_id, wildcard(req));
      return {};
    });
  }

  // Uploads: the body is streamed to disk as it arrives, never buffered or JSON-parsed.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    for (const p of ARTIFACT_PREFIXES) {
      raw.put(`${p}/artifacts/*`, { config: { streamingBody: true } }, async (req, reply) => {
        await svc.put(req.caller!, wildcard(req), bodyStream(req, svc.maxBytes));
        return reply.send({});
      });
      raw.put<{ Params: { uploadId: string; part: string } }>(`${p}/mpu/upload/:uploadId/:part`, { config: { streamingBody: true } }, async (req, reply) => {
        const part = Number(req.params.part);
        const { etag } = await svc.putPart(req.caller!, req.params.uploadId, part, bodyStream(req, svc.maxBytes));
        return reply.header('ETag', `"${etag}"`).send({});
      });
    }
  });
}

function wildcard(req: FastifyRequest): string {
  return (req.params as Record<string, string>)['*'] ?? '';
}

/** The request body as a stream, refusing up front a declared length over the limit. */
function bodyStream(req: FastifyRequest, maxBytes: number): Readable {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(`Artifact of ${declared} bytes is larger than the limit of ${maxBytes} bytes (LABLOG_MAX_ARTIFACT_BYTES)`);
  if (req.body === undefined || req.body === null) return Readable.from([]);
  if (!(req.body instanceof Readable)) throw invalid('Expected a raw request body');
  return req.body;
}

