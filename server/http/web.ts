import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the UI (web/dist), relative to the compiled server. */
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

const API_PREFIXES = ['/api/', '/ajax-api/', '/get-artifact', '/model-versions/get-artifact', '/health', '/version', '/sdk/'];

/**
 * Serves the built UI at / from the same server and port. Client-side routes (/runs, /run/<id>, ...)
 * get index.html; API paths keep their JSON 404. Returns the fallback for the not-found handler, or
 * null when the UI was not built.
 */
export async function registerWebUi(app: FastifyInstance, root = WEB_ROOT): Promise<((req: FastifyRequest, reply: FastifyReply) => boolean) | null> {
  if (!existsSync(path.join(root, 'index.html'))) return null;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders: (res, file) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      // Hashed asset names never change content; index.html must always be revalidated.
      res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url.split('?')[0];
    if (API_PREFIXES.some((p) => url.startsWith(p)) || url.startsWith('/assets/')) return false;
    void reply.header('Cache-Control', 'no-cache').sendFile('index.html');
    return true;
  };
}
