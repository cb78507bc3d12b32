import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

/** Where `npm run build` (scripts/pack-sdk.mjs) puts the packed SDK, relative to the compiled server. */
export const SDK_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sdk');
export const TARBALL_PATH = '/sdk/lablog-client.tgz';

export interface SdkRoutesOptions {
  /** The directory holding lablog-client.tgz and lablog-client.json (default dist/sdk). */
  dir?: string;
  /** The URL users reach the server at; the install line otherwise uses the request's own origin. */
  publicUrl?: string;
}

interface Packed {
  name: string;
  version: string;
  tgz: Buffer;
  etag: string;
}

function load(dir: string): Packed | null {
  try {
    const tgz = readFileSync(path.join(dir, 'lablog-client.tgz'));
    const manifest = JSON.parse(readFileSync(path.join(dir, 'lablog-client.json'), 'utf8')) as { name: string; version: string };
    const etag = `"${createHash('sha256').update(tgz).digest('base64url').slice(0, 27)}"`;
    return { name: manifest.name, version: manifest.version, tgz, etag };
  } catch {
    return null;
  }
}

function origin(req: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${req.protocol}://${req.host}`;
}

/**
 * The SDK this server was built with, for training scripts on other machines:
 *   GET /sdk/                     its name, version and the npm install line (JSON; text/plain if asked)
 *   GET /sdk/lablog-client.tgz    the `npm pack` of client-sdk/ (`npm install <origin>/sdk/lablog-client.tgz`)
 * Neither needs credentials (the auth hook exempts /sdk/). The tarball is read once, at start: the server
 * serves the SDK it was built with. Without a build (no dist/sdk) both answer 404 in MLflow's error shape.
 */
export function registerSdkRoutes(app: FastifyInstance, opts: SdkRoutesOptions = {}): void {
  const sdk = load(opts.dir ?? SDK_DIR);
  const missing = (reply: FastifyReply) =>
    sendError(reply, 'RESOURCE_DOES_NOT_EXIST', 'The SDK tarball was not built: run `npm run build` on the server (it packs client-sdk/ into dist/sdk/).');

  app.get('/sdk/', (req, reply) => {
    if (!sdk) return missing(reply);
    const install = `npm install ${origin(req, opts.publicUrl)}${TARBALL_PATH}`;
    reply.header('Cache-Control', 'no-cache');
    const accept = req.headers.accept ?? '';
    if (accept.includes('text/plain') && !accept.includes('application/json')) {
      return reply.type('text/plain; charset=utf-8').send(`${sdk.name} ${sdk.version}\n${install}\n`);
    }
    return reply.send({ name: sdk.name, version: sdk.version, tarball: TARBALL_PATH, install });
  });

  app.get(TARBALL_PATH, (req, reply) => {
    if (!sdk) return missing(reply);
    reply.header('ETag', sdk.etag).header('Cache-Control', 'no-cache').header('X-Content-Type-Options', 'nosniff');
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim().replace(/^W\//, '') === sdk.etag)) {
      return reply.code(304).send();
    }
    return reply
      .type('application/gzip')
      .header('Content-Length', sdk.tgz.length)
      .header('Content-Disposition', `attachment; filename="${sdk.name}-${sdk.version}.tgz"`)
      .send(sdk.tgz);
  });
}
