import cors from '@fastify/cors';
import helmet from 'helmet';
import type { FastifyInstance } from 'fastify';

export interface SecurityOptions {
  /** Origins allowed by CORS (LABLOG_CORS_ORIGINS); empty: no CORS at all; `*`: any origin. */
  corsOrigins: string[];
}

/**
 * The UI's Content-Security-Policy. The UI is same-origin Preact + uPlot built by Vite: one module
 * script and one stylesheet under /assets/, no inline script or style element; element styles are set
 * through CSSOM (Preact's style props, uPlot), which `style-src 'self'` allows. Images of artifacts come
 * from the same origin (/get-artifact); data: and blob: are allowed for images a page might build itself.
 * No upgrade-insecure-requests: the server is often reached over plain http on a LAN, and upgrading
 * the UI's own requests to https would break it there. No form-action: Chromium applies it to the
 * redirects after a form submission, which a single sign-on button posting to the server (and
 * redirected on to the identity provider) would trip over.
 */
export const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'frame-ancestors': ["'self'"],
};

/** Headers the API may need to read cross-origin, and send. */
const EXPOSED = ['ETag', 'Content-Disposition', 'Content-Length', 'Content-Range', 'Retry-After', 'Idempotent-Replayed'];

/**
 * Security headers on every answer (helmet), and CORS only when origins are configured. Registered
 * before the routes and the auth hook: a CORS preflight is answered in an onRequest hook, before any
 * credentials are asked for. Routes that set their own headers (artifact downloads: nosniff,
 * attachment, `Content-Security-Policy: sandbox`) keep them, since a reply's headers win over these.
 *
 * helmet's middleware is built once here and applied to each raw response. @fastify/helmet, which
 * wraps the same helmet for Fastify, builds it anew on every request (checking the options, parsing
 * the policy's directives): 7 % of the server's time for a single log-metric call. lablog uses none of
 * what that plugin adds (per-route helmet options, CSP nonces, a reply.helmet decorator).
 */
export async function registerSecurity(app: FastifyInstance, opts: SecurityOptions): Promise<void> {
  const corsOn = opts.corsOrigins.length > 0;
  const securityHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // HSTS is the business of whatever terminates TLS; over plain http it would be ignored anyway.
    strictTransportSecurity: false,
    // With CORS on, other sites are meant to use the API, images of artifacts included.
    crossOriginResourcePolicy: { policy: corsOn ? 'cross-origin' : 'same-origin' },
  });
  // helmet's middleware sets headers and calls next at once (it throws rather than passing errors on).
  app.addHook('onRequest', (req, reply, done) => securityHeaders(req.raw, reply.raw, () => done()));
  if (!corsOn) return;
  await app.register(cors, {
    origin: opts.corsOrigins.includes('*') ? '*' : opts.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-CSRF-Token', 'Idempotency-Key', 'Range', 'If-None-Match', 'If-Range'],
    exposedHeaders: EXPOSED,
    maxAge: 600,
  });
}
