import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ArtifactStat, Range } from '../artifacts/types.js';

const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.bmp': 'image/bmp',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.diff': 'text/plain; charset=utf-8',
  '.py': 'text/plain; charset=utf-8',
  '.pdf': 'application/pdf',
  '.npy': 'application/octet-stream',
  '.pt': 'application/octet-stream',
  '.pkl': 'application/octet-stream',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
};

// Anything a browser could run as script from our origin is only ever a download.
const SCRIPTABLE = new Set(['.html', '.htm', '.xhtml', '.svg', '.svgz', '.xml', '.xsl', '.js', '.mjs', '.swf', '.shtml']);

export const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export function contentTypeOf(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function isScriptable(file: string): boolean {
  return SCRIPTABLE.has(path.extname(file).toLowerCase());
}

/** Parses a single `bytes=` range; null means "send the whole file", 'unsatisfiable' means 416. */
export function parseRange(header: string | undefined, size: number): Range | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // malformed or multi-range: RFC 9110 lets us ignore it
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

/**
 * Streams an artifact with validators and Range support. Scriptable types and `attachment` downloads
 * carry Content-Disposition: attachment; nothing is sniffed into something renderable.
 */
export function sendArtifact(
  req: FastifyRequest,
  reply: FastifyReply,
  file: { path: string; stat: ArtifactStat; open: (range?: Range) => NodeJS.ReadableStream },
  opts: { attachment: boolean },
): FastifyReply {
  const { stat } = file;
  const name = path.posix.basename(file.path);
  const scriptable = isScriptable(name);
  reply.header('ETag', stat.etag);
  reply.header('Last-Modified', new Date(stat.mtimeMs).toUTCString());
  reply.header('Accept-Ranges', 'bytes');
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Content-Type', scriptable ? 'application/octet-stream' : contentTypeOf(name));
  if (scriptable) reply.header('Content-Security-Policy', 'sandbox');
  if (opts.attachment || scriptable) reply.header('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`);

  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim() === stat.etag)) return reply.code(304).send();

  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== stat.etag ? null : parseRange(req.headers.range, stat.size);
  if (range === 'unsatisfiable') {
    return reply.code(416).header('Content-Range', `bytes */${stat.size}`).type('application/json').send({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Range '${req.headers.range}' is outside the ${stat.size}-byte artifact`,
    });
  }
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${stat.size}`);
    reply.header('Content-Length', range.end - range.start + 1);
    return reply.send(file.open(range));
  }
  reply.header('Content-Length', stat.size);
  return reply.send(file.open());
}
