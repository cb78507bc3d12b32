import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ArtifactService } from '../tracking/artifacts.service.js';
import { contentTypeOf, IMAGE_TYPES, sendArtifact } from './artifact-download.js';
import { fileInfoJson } from './artifacts.routes.js';
import { LABLOG_PREFIX, MLFLOW_PREFIXES, runIdOf } from './prefixes.js';
import { EX, runRef, withExamples } from './schemas.js';
import { decodePageToken, withToken } from './wire.js';

const listQuery = withExamples(
  z.object({ ...runRef, path: z.string().optional(), page_token: z.string().optional() }),
  { run_id: EX.run, path: 'model' },
);
const fileQuery = withExamples(z.object({ ...runRef, path: z.string() }), { run_id: EX.run, path: 'model/MLmodel' });

export const PREVIEW_BYTES = 1024 * 1024;

/** Run-relative artifact reads: MLflow's artifacts/list and get-artifact, and lablog's preview. */
export async function runArtifactRoutes(app: FastifyInstance, opts: { artifacts: ArtifactService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.artifacts;

  for (const p of MLFLOW_PREFIXES) {
    r.get(`${p}/artifacts/list`, { schema: { querystring: listQuery } }, async (req) => {
      const page = await svc.listRun(req.caller!, runIdOf(req.query), req.query.path, decodePageToken(req.query.page_token));
      return withToken({ root_uri: page.rootUri, files: page.files.map(fileInfoJson) }, page.nextOffset);
    });
  }

  // MLflow's UI upload (ajax-api only, as in MLflow): query run_uuid and path, the raw body is the file,
  // whatever its content type.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    raw.post<{ Querystring: Record<string, string | string[] | undefined> }>('/ajax-api/2.0/mlflow/upload-artifact', { config: { streamingBody: true } }, async (req) => {
      const declared = Number(req.headers['content-length']);
      await svc.uploadToRun(
        req.caller!,
        { runId: firstOf(req.query.run_uuid), path: firstOf(req.query.path), declaredBytes: Number.isFinite(declared) ? declared : undefined },
        req.body instanceof Readable ? req.body : undefined,
      );
      return {};
    });
  });

  // MLflow's UI download route: always an attachment, never rendered from our origin.
  r.get('/get-artifact', { schema: { querystring: fileQuery } }, async (req, reply) =>
    sendArtifact(req, reply, await svc.runFile(req.caller!, runIdOf(req.query), req.query.path), { attachment: true }),
  );

  // Images come back as themselves (safe raster types only); anything else as JSON with the start of
  // its text, so the UI can show logs, CSV and JSON without downloading them whole.
  r.get(`${LABLOG_PREFIX}/artifacts/preview`, { schema: { querystring: fileQuery } }, async (req, reply) => {
    const file = await svc.runFile(req.caller!, runIdOf(req.query), req.query.path);
    const type = contentTypeOf(file.path);
    if (IMAGE_TYPES.has(type)) return sendArtifact(req, reply, file, { attachment: false });
    const size = file.stat.size;
    const head = await readHead(file.open(size > 0 ? { start: 0, end: Math.min(size, PREVIEW_BYTES) - 1 } : undefined), size);
    const binary = head.subarray(0, 8192).includes(0);
    const kind = binary ? 'binary' : type.startsWith('text/csv') || type.startsWith('text/tab') ? 'csv' : type === 'application/json' ? 'json' : 'text';
    return {
      path: req.query.path,
      kind,
      content_type: type,
      total_size: size,
      truncated: size > PREVIEW_BYTES,
      ...(binary ? {} : { content: decodeUtf8Prefix(head, size > PREVIEW_BYTES) }),
    };
  });
}

/** Flask's request.args.get: the first of repeated values. */
function firstOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

async function readHead(stream: NodeJS.ReadableStream, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Decodes UTF-8; when the text was cut, a character split at the cut is held back, not mangled. */
function decodeUtf8Prefix(buf: Buffer, truncated: boolean): string {
  return new TextDecoder('utf-8').decode(buf, { stream: truncated });
}
