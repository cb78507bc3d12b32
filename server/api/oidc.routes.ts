import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CredentialService } from '../auth/credentials.service.js';
import type { OidcService } from '../auth/oidc.service.js';
import { setSessionCookies } from './accounts.routes.js';
import { LABLOG_PREFIX } from './prefixes.js';
import { EX, withExamples } from './schemas.js';

export const AUTH_CONFIG_PATH = `${LABLOG_PREFIX}/auth/config`;
export const OIDC_LOGIN_PATH = `${LABLOG_PREFIX}/auth/oidc/login`;
export const OIDC_CALLBACK_PATH = `${LABLOG_PREFIX}/auth/oidc/callback`;
/** The pending login (PKCE verifier, state, nonce, next), sealed by the OIDC service. */
export const OIDC_PENDING_COOKIE = 'lablog_oidc';

const loginQuery = withExamples(z.object({ next: z.string().max(2048).optional() }), { next: '/#/experiments' });

export interface OidcRouteOptions {
  authEnabled: boolean;
  /** Absent when single sign-on is not configured (or auth is off): only auth/config is served. */
  oidc: OidcService | null;
  credentials: CredentialService;
  secureCookies: boolean;
}

/** Single sign-on with OpenID Connect (docs/auth.md), and what the login page needs to know about it. */
export async function oidcRoutes(app: FastifyInstance, opts: OidcRouteOptions) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const oidc = opts.oidc;

  // The login page asks this before anyone is logged in: whether to show "Sign in with SSO".
  r.get(AUTH_CONFIG_PATH, { config: { public: true } }, async () => ({
    auth_enabled: opts.authEnabled,
    oidc_enabled: oidc !== null,
    oidc_login_url: oidc ? OIDC_LOGIN_PATH : undefined,
  }));
  if (!oidc) return;

  r.get(OIDC_LOGIN_PATH, { schema: { querystring: loginQuery }, config: { public: true } }, async (req, reply) => {
    const login = await oidc.begin(req.query.next);
    // SameSite=Lax, not Strict like the session cookie: the identity provider sends the browser back
    // to the callback with a cross-site top-level GET, and a Strict cookie would not come along, so the
    // callback could never check the state. Lax cookies do come with top-level GET navigations, and
    // this one holds no authority (only the proof that this browser started this login).
    void reply.setCookie(OIDC_PENDING_COOKIE, login.pending, {
      path: OIDC_CALLBACK_PATH,
      httpOnly: true,
      sameSite: 'lax',
      secure: opts.secureCookies,
      maxAge: login.maxAgeSeconds,
    });
    return reply.header('cache-control', 'no-store').redirect(login.url, 302);
  });

  r.get(OIDC_CALLBACK_PATH, { config: { public: true } }, async (req, reply) => {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) if (typeof v === 'string') query[k] = v;
    const sealed = req.cookies[OIDC_PENDING_COOKIE];
    // One use only, whatever the outcome.
    void reply.clearCookie(OIDC_PENDING_COOKIE, { path: OIDC_CALLBACK_PATH }).header('cache-control', 'no-store');
    const { user, next } = await oidc.finish(query, sealed);
    const session = await opts.credentials.startSession(user.id);
    // The session cookies stay SameSite=Strict: the redirect below still belongs to the navigation the
    // identity provider started, so the page at `next` may load without them, but the UI shell holds no
    // data and its own API calls (same-site) carry them.
    setSessionCookies(reply, session, opts.secureCookies);
    return reply.redirect(next, 302);
  });
}
