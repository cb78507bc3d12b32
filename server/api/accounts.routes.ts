import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AccountService } from '../auth/accounts.service.js';
import type { CredentialService } from '../auth/credentials.service.js';
import { LOCAL_ADMIN, PERMISSIONS, ROLES, type Caller } from '../auth/permissions.js';
import { unauthenticated } from '../errors.js';
import { CSRF_COOKIE, SESSION_COOKIE } from '../http/auth.js';
import type { TokenRecord, UserRecord } from '../store/auth-types.js';
import { LABLOG_PREFIX, checkMaxResults } from './prefixes.js';
import { EX, experimentId, int64, queryInt, withExamples } from './schemas.js';
import { decodePageToken, withToken } from './wire.js';

// One schema per request, shared by the routes, their tests and docs/auth.md.
export const loginBody = withExamples(
  z.object({ username: z.string().min(1).max(255), password: z.string().min(1).max(1024) }),
  { username: 'ada', password: 'correct horse battery' },
);
export const createUserBody = withExamples(
  z.object({ username: z.string(), password: z.string(), role: z.enum(ROLES) }),
  { username: 'grace', password: 'a long passphrase', role: 'editor' },
);
export const updateUserBody = withExamples(
  z.object({ username: z.string(), role: z.enum(ROLES).optional(), password: z.string().optional() }),
  { username: 'grace', role: 'viewer' },
);
const usernameBody = withExamples(z.object({ username: z.string() }), { username: 'grace' });
export const createTokenBody = withExamples(
  z.object({ name: z.string(), expires_in_days: int64.optional(), username: z.string().optional() }),
  { name: 'ci', expires_in_days: 90 },
);
const tokensQuery = withExamples(z.object({ username: z.string().optional() }), { username: 'grace' });
const revokeBody = withExamples(z.object({ id: int64 }), { id: 7 });
export const setPermissionBody = withExamples(
  z.object({ experiment_id: experimentId, username: z.string(), permission: z.enum(PERMISSIONS) }),
  { experiment_id: EX.experiment, username: 'grace', permission: 'EDIT' },
);
const deletePermissionBody = withExamples(
  z.object({ experiment_id: experimentId, username: z.string() }),
  { experiment_id: EX.experiment, username: 'grace' },
);
const permissionsQuery = withExamples(z.object({ experiment_id: experimentId }), { experiment_id: EX.experiment });
export const auditQuery = withExamples(z.object({
  username: z.string().optional(),
  experiment_id: z.string().optional(),
  start_time: queryInt,
  end_time: queryInt,
  max_results: queryInt,
  page_token: z.string().optional(),
}), { username: 'grace', start_time: '1700000000000', max_results: '100' });

export const userJson = (u: UserRecord) => ({ id: u.id, username: u.username, role: u.role, auth_source: u.authSource, created_at: u.createdAt });

const tokenJson = (t: TokenRecord) => ({
  id: t.id,
  name: t.name,
  username: t.username,
  created_at: t.createdAt,
  expires_at: t.expiresAt ?? undefined,
  last_used_at: t.lastUsedAt ?? undefined,
});

function callerOf(req: { caller?: Caller }): Caller {
  if (!req.caller) throw unauthenticated('Authentication required.');
  return req.caller;
}

/** Sets the browser session's cookies: the id (script-proof) and the CSRF token (for the UI to echo). */
export function setSessionCookies(reply: FastifyReply, s: { sessionId: string; csrfToken: string; maxAgeSeconds: number }, secure: boolean): void {
  const base = { path: '/', sameSite: 'strict' as const, secure, maxAge: s.maxAgeSeconds };
  void reply.setCookie(SESSION_COOKIE, s.sessionId, { ...base, httpOnly: true });
  void reply.setCookie(CSRF_COOKIE, s.csrfToken, { ...base, httpOnly: false });
}

export async function accountRoutes(app: FastifyInstance, opts: { accounts: AccountService; credentials: CredentialService; secureCookies: boolean }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.accounts;
  const base = LABLOG_PREFIX;

  r.post(`${base}/auth/login`, { schema: { body: loginBody }, config: { public: true } }, async (req, reply) => {
    if (!svc.enabled) return { user: null, csrf_token: '' };
    const s = await opts.credentials.login(req.body.username, req.body.password, (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    setSessionCookies(reply, s, opts.secureCookies);
    return { user: userJson(s.user), csrf_token: s.csrfToken };
  });
  r.post(`${base}/auth/logout`, async (req, reply) => {
    const caller = callerOf(req);
    if (caller.sessionHash) await opts.credentials.endSession(caller.sessionHash);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' }).clearCookie(CSRF_COOKIE, { path: '/' });
    return {};
  });
  r.get(`${base}/me`, async (req) => {
    const me = await svc.me(callerOf(req));
    return {
      user: me.user ? userJson(me.user) : { username: LOCAL_ADMIN.username, role: LOCAL_ADMIN.role, auth_source: 'local' },
      auth_enabled: svc.enabled,
      default_permission: svc.defaultPermission,
      csrf_token: me.caller.csrfToken,
      permissions: [...me.permissions].map(([experiment_id, permission]) => ({ experiment_id, permission })),
    };
  });

  r.post(`${base}/users/create`, { schema: { body: createUserBody } }, async (req) => ({ user: userJson(await svc.createUser(callerOf(req), req.body)) }));
  r.get(`${base}/users/list`, async (req) => ({ users: (await svc.listUsers(callerOf(req))).map(userJson) }));
  r.post(`${base}/users/update`, { schema: { body: updateUserBody } }, async (req) => ({ user: userJson(await svc.updateUser(callerOf(req), req.body)) }));
  r.post(`${base}/users/delete`, { schema: { body: usernameBody } }, async (req) => {
    await svc.deleteUser(callerOf(req), req.body.username);
    return {};
  });

  r.post(`${base}/tokens/create`, { schema: { body: createTokenBody } }, async (req) => {
    const { token, value } = await svc.createToken(callerOf(req), { name: req.body.name, expiresInDays: req.body.expires_in_days, username: req.body.username });
    return { token: { ...tokenJson(token), value } };
  });
  r.get(`${base}/tokens/list`, { schema: { querystring: tokensQuery } }, async (req) => ({
    tokens: (await svc.listTokens(callerOf(req), req.query.username)).map(tokenJson),
  }));
  r.post(`${base}/tokens/revoke`, { schema: { body: revokeBody } }, async (req) => {
    await svc.revokeToken(callerOf(req), req.body.id);
    return {};
  });

  r.post(`${base}/permissions/set`, { schema: { body: setPermissionBody } }, async (req) => {
    await svc.setPermission(callerOf(req), { experimentId: req.body.experiment_id, username: req.body.username, permission: req.body.permission });
    return {};
  });
  r.post(`${base}/permissions/delete`, { schema: { body: deletePermissionBody } }, async (req) => {
    await svc.deletePermission(callerOf(req), { experimentId: req.body.experiment_id, username: req.body.username });
    return {};
  });
  r.get(`${base}/permissions/list`, { schema: { querystring: permissionsQuery } }, async (req) => ({
    permissions: (await svc.listPermissions(callerOf(req), req.query.experiment_id)).map((p) => ({ experiment_id: p.experimentId, username: p.username, permission: p.permission })),
  }));

  r.get(`${base}/audit/list`, { schema: { querystring: auditQuery } }, async (req) => {
    const q = req.query;
    const page = await svc.listAudit(callerOf(req), {
      username: q.username,
      experimentId: q.experiment_id,
      startTime: q.start_time,
      endTime: q.end_time,
      offset: decodePageToken(q.page_token),
      limit: checkMaxResults(q.max_results, 100),
    });
    return withToken(
      {
        entries: page.items.map((e) => ({
          id: e.id,
          time: e.time,
          username: e.username,
          method: e.method,
          route: e.route,
          status: e.status,
          experiment_id: e.experimentId ?? undefined,
          run_id: e.runId ?? undefined,
        })),
      },
      page.nextOffset,
    );
  });
}
