import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDraining } from './drain.js';

/** Connection and timing limits; times in seconds, as the settings are written. */
export interface ConnectionLimits {
  /** Open connections at once; the next one is dropped by the kernel-facing server. */
  maxConnections: number;
  /** From a connection's first byte to the end of a request's headers. */
  headersTimeout: number;
  /** From the end of the headers to the end of a body that is parsed whole (not artifact uploads). */
  bodyTimeout: number;
  /** A connection that sends and receives nothing for this long is closed. */
  idleTimeout: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { maxConnections: 1000, headersTimeout: 20, bodyTimeout: 60, idleTimeout: 120 };

/**
 * JSON nested deeper than this is refused: MLflow's messages nest five levels at most, and the
 * recursive walks over a parsed body (validation, error messages) must stay shallow.
 */
export const MAX_JSON_DEPTH = 64;

/** What inspectJson finds wrong with a parsed body, if anything. */
export type JsonRefusal = 'too-deep' | 'prototype-key';

/**
 * Whether a parsed JSON value holds more than `max` arrays or objects inside one another, or a key that
 * could poison a prototype when the value is merged into another object: `__proto__`, or `constructor`
 * holding an object with a `prototype` key (what secure-json-parse refuses for Fastify's
 * onProtoPoisoning and onConstructorPoisoning 'error').
 *
 * Checked on the parsed value rather than the text: V8's JSON.parse is iterative, so any depth parses
 * safely, and a walk over a log-batch's 1,000 small objects cost a tenth of a character scan over its
 * 75 KB, which was as dear as the parse itself. secure-json-parse first tests the whole text with two
 * regular expressions, 2.6 % of the server's busy time on 75 KB log-batches; this walk reads every key
 * anyway. It stops at `max`, so it recurses at most that deep.
 */
export function inspectJson(value: unknown, max: number): JsonRefusal | null {
  if (typeof value !== 'object' || value === null) return null;
  if (max === 0) return 'too-deep';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'object' && v !== null) {
        const found = inspectJson(v, max - 1);
        if (found) return found;
      }
    }
    return null;
  }
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (k === '__proto__') return 'prototype-key';
    if (typeof v === 'object' && v !== null) {
      if (k === 'constructor' && Object.hasOwn(v, 'prototype')) return 'prototype-key';
      const found = inspectJson(v, max - 1);
      if (found) return found;
    }
  }
  return null;
}

/** Options for Fastify's constructor that put the limits on Node's HTTP server. */
export function serverOptions(limits: ConnectionLimits) {
  const headersMs = Math.round(limits.headersTimeout * 1000);
  return {
    connectionTimeout: Math.round(limits.idleTimeout * 1000),
    // Node checks header deadlines on this interval (30 s by default, too coarse for a 20 s limit).
    http: { headersTimeout: headersMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersMs / 4))) },
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An upload streamed to storage as it arrives: no deadline on its body, only the idle timeout. */
    streamingBody?: boolean;
  }
}

/**
 * A body parsed whole must arrive within `bodyTimeout`: a client trickling a JSON body a byte at a
 * time (slow loris) would otherwise hold a connection for as long as it likes. Artifact uploads are
 * exempt (a 10 GiB file over a slow link is legitimate); the idle timeout still bounds them.
 */
export function registerLimits(app: FastifyInstance, limits: ConnectionLimits): void {
  app.server.maxConnections = limits.maxConnections;
  let lastDropWarning = 0;
  app.server.on('drop', (data) => {
    if (Date.now() - lastDropWarning < 10_000) return;
    lastDropWarning = Date.now();
    app.log.warn({ remote: data?.remoteAddress, maxConnections: limits.maxConnections }, 'connection dropped: too many open connections (LABLOG_MAX_CONNECTIONS)');
  });
  const ms = Math.round(limits.bodyTimeout * 1000);
  app.addHook('onRequest', (req, reply, done) => {
    if (!req.routeOptions.config?.streamingBody && expectsBody(req) && !req.raw.complete) deadline(req, reply, ms, limits.bodyTimeout);
    done();
  });
}

function expectsBody(req: FastifyRequest): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function deadline(req: FastifyRequest, reply: FastifyReply, ms: number, seconds: number): void {
  const timer = setTimeout(() => {
    // An error answer already waits on this body under the drain's own bounds.
    if (req.raw.complete || isDraining(req.raw)) return;
    const socket = req.raw.socket;
    req.log.warn({ url: req.url, seconds }, 'request body not received in time; connection closed');
    if (reply.raw.headersSent) return void socket.destroy();
    const body = JSON.stringify({
      error_code: 'BAD_REQUEST',
      message: `Request body not received within ${seconds} s (LABLOG_BODY_TIMEOUT); the connection is closed.`,
    });
    reply.raw.writeHead(408, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    reply.raw.end(body, () => socket.destroy());
  }, ms);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.raw.once('end', clear);
  reply.raw.once('close', clear);
}
