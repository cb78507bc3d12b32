import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountService } from '../auth/accounts.service.js';
import type { Credential, CredentialService } from '../auth/credentials.service.js';
import { LOCAL_ADMIN, type Caller } from '../auth/permissions.js';
import { sameSecret } from '../auth/secrets.js';
import { denied, rateLimited, unauthenticated, unlessStorageUnavailable } from '../errors.js';
import type { Role } from '../store/auth-types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; set by the auth hook before anything else runs. Absent only on public paths. */
    caller?: Caller;
  }
  interface FastifyInstance {
    /** Every route registered, as buildApp records it. */
    /** Every route added; `schema` holds its zod request schemas (the OpenAPI test parses the documented examples with them). */
    routeTable: { method: string; url: string; public: boolean; schema?: Record<string, unknown> }[];
  }
  interface FastifyContextConfig {
    /** Answers without credentials (login, single sign-on callbacks). */
    public?: boolean;
  }
}

export const SESSION_COOKIE = 'lablog_session';
export const CSRF_COOKIE = 'lablog_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** The UI's shell and its static files hold no data; everything under these prefixes does. */
const DATA_PREFIXES = ['/api/', '/ajax-api/', '/get-artifact', '/model-versions/get-artifact', '/version'];
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthHttpOptions {
  enabled: boolean;
  credentials: CredentialService;
  accounts: AccountService;
  rateLimit: number;
  trustedProxyHeader?: string;
  trustedProxies: string[];
  proxyRole: Role;
  clock: { now(): number };
}

/** Paths that answer without credentials: health, the SDK tarball, and the UI shell (no data). */
export function isPublicPath(url: string): boolean {
  const path = url.split('?')[0];
  if (path === '/health' || path.startsWith('/sdk/') || path === '/sdk') return true;
  return !DATA_PREFIXES.some((p) => path.startsWith(p));
}

function credentialOf(req: FastifyRequest): Credential | null {
  const header = req.headers.authorization;
  if (header) {
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer' && value) return { kind: 'bearer', token: value };
    if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { kind: 'basic', username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
    }
    throw unauthenticated('Unsupported Authorization header: send "Bearer <token>" or Basic username:password.');
  }
  const session = req.cookies?.[SESSION_COOKIE];
  return session ? { kind: 'session', id: session } : null;
}

const addressOf = (req: FastifyRequest) => (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

/**
 * Resolves the caller of every request once, before its body is read, so an unauthenticated upload is
 * refused before a byte of it is stored. Writes by a browser session must echo its CSRF token.
 */
export async function registerAuth(app: FastifyInstance, opts: AuthHttpOptions): Promise<void> {
  await app.register(fastifyCookie);
  if (!opts.enabled) {
    app.addHook('onRequest', async (req) => {
      req.caller = LOCAL_ADMIN;
    });
    return;
  }
  const created = new WeakMap<FastifyRequest, { experimentId?: unknown; runId?: unknown }>();
  const proxies = new Set(opts.trustedProxies.map((a) => a.replace(/^::ffff:/, '')));
  const proxyHeader = opts.trustedProxyHeader?.toLowerCase();

  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.public) return;
    if (proxyHeader && proxies.has(addressOf(req))) {
      const name = req.headers[proxyHeader];
      if (typeof name === 'string' && name) {
        req.caller = await opts.credentials.proxyCaller(name.trim(), opts.proxyRole);
        return;
      }
    }
    const cred = credentialOf(req);
    if (!cred) {
      if (isPublicPath(req.url)) return;
      throw unauthenticated('Authentication required: send a token (Authorization: Bearer) or Basic username:password.');
    }
    try {
      req.caller = await opts.credentials.authenticate(cred, addressOf(req));
    } catch (err) {
      // A stale cookie must not lock the login page or the UI shell away.
      if (isPublicPath(req.url)) return;
      throw err;
    }
    if (req.caller.via === 'session' && !SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameSecret(sent, req.caller.csrfToken!)) {
        throw denied('CSRF token missing or invalid: send the X-CSRF-Token header with the token from auth/login or me.');
      }
    }
  });

  if (opts.rateLimit > 0) {
    await app.register(fastifyRateLimit, {
      max: opts.rateLimit,
      timeWindow: 60_000,
      // After the caller is known, before the body is parsed: the limit is per credential.
      hook: 'preParsing',
      keyGenerator: (req) => (req.caller ? `u:${req.caller.username}` : `a:${addressOf(req)}`),
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      errorResponseBuilder: (_req, ctx) =>
        rateLimited(`Rate limit exceeded: at most ${ctx.max} requests a minute per credential; retry in ${ctx.after}.`, Math.ceil(ctx.ttl / 1000)),
    });
  }

  // A create names its new experiment or run only in its answer (small: read only when short).
  app.addHook('onSend', async (req, _reply, payload) => {
    if (!SAFE_METHODS.has(req.method) && req.caller && typeof payload === 'string' && payload.length > 2 && payload.length < 4096) {
      try {
        const body = JSON.parse(payload) as { experiment_id?: unknown; run?: { info?: { run_id?: unknown; experiment_id?: unknown } } };
        created.set(req, { experimentId: body.experiment_id ?? body.run?.info?.experiment_id, runId: body.run?.info?.run_id });
      } catch {
        // not JSON: nothing to learn
      }
    }
    return payload;
  });

  // Who wrote what. Reads are not recorded; refused writes are, with their status.
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    if (SAFE_METHODS.has(req.method) || !req.caller || !req.routeOptions.url) return;
    let { experimentId, runId } = subjectOf(req);
    const answer = created.get(req);
    if (typeof answer?.experimentId === 'string') experimentId ??= answer.experimentId;
    if (typeof answer?.runId === 'string') runId ??= answer.runId;
    // A disk that refused the write refuses its record too; the answer has gone out all the same.
    await unlessStorageUnavailable(
      opts.accounts.record({
        time: opts.clock.now(),
        username: req.caller.username,
        method: req.method,
        route: req.routeOptions.url,
        status: reply.statusCode,
        experimentId,
        runId,
      }),
    );
  });
}

/** The experiment and run a write names, from its body, query or artifact path. */
function subjectOf(req: FastifyRequest): { experimentId: string | null; runId: string | null } {
  const fields = { ...(req.query as Record<string, unknown>), ...(req.body !== null && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {}) };
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v).slice(0, 255) : null);
  let experimentId = str(fields.experiment_id);
  let runId = str(fields.run_id) ?? str(fields.run_uuid);
  const wildcard = (req.params as Record<string, string> | undefined)?.['*'];
  if (wildcard && req.url.includes('mlflow-artifacts')) {
    const [exp, run] = wildcard.split('/');
    if (/^\d+$/.test(exp)) experimentId ??= exp;
    if (run) runId ??= run.slice(0, 255);
  }
  return { experimentId, runId };
}
