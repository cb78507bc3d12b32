import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AccountService } from '../auth/accounts.service.js';
import type { CredentialService } from '../auth/credentials.service.js';
import { LOCAL_ADMIN, PERMISSIONS, ROLES, type Caller } from '../auth/permissions.js';
import { invalid, unauthenticated } from '../errors.js';
import { CSRF_COOKIE, SESSION_COOKIE } from '../http/auth.js';
import type { TokenRecord, UserRecord } from '../store/auth-types.js';
import { LABLOG_PREFIX, checkMaxResults } from './prefixes.js';
import { experimentId, int64, queryInt } from './schemas.js';
import { decodePageToken, withToken } from './wire.js';

// One schema per request, shared by the routes, their tests and docs/auth.md.
export const loginBody = z.object({ username: z.string().min(1).max(255), password: z.string().min(1).max(1024) });
export const createUserBody = z.object({ username: z.string(), password: z.string(), role: z.enum(ROLES) });
export const updateUserBody = z.object({ username: z.string(), role: z.enum(ROLES).optional(), password: z.string().optional() });
const usernameBody = z.object({ username: z.string() });
export const createTokenBody = z.object({ name: z.string(), expires_in_days: int64.optional(), username: z.string().optional() });
const tokensQuery = z.object({ username: z.string().optional() });
const revokeBody = z.object({ id: int64 });
// A permission is on an experiment (experiment_id) or on a registered model (registered_model_name).
const permissionTarget = { experiment_id: experimentId.optional(), registered_model_name: z.string().optional() };
export const setPermissionBody = z.object({ ...permissionTarget, username: z.string(), permission: z.enum(PERMISSIONS) });
const deletePermissionBody = z.object({ ...permissionTarget, username: z.string() });
const permissionsQuery = z.object(permissionTarget);
export const auditQuery = z.object({
  username: z.string().optional(),
  experiment_id: z.string().optional(),
  start_time: queryInt,
  end_time: queryInt,
  max_results: queryInt,
  page_token: z.string().optional(),
});

export const userJson = (u: UserRecord) => ({ id: u.id, username: u.username, role: u.role, auth_source: u.authSource, created_at: u.createdAt });

const tokenJson = (t: TokenRecord) => ({
  id: t.id,
  name: t.name,
  username: t.username,
  created_at: t.createdAt,
  expires_at: t.expiresAt ?? undefined,
  last_used_at: t.lastUsedAt ?? undefined,
});

/** Exactly one of experiment_id and registered_model_name. */
function permissionTargetOf(q: { experiment_id?: string; registered_model_name?: string }): { experiment?: string; model?: string } {
  if ((q.experiment_id === undefined) === (q.registered_model_name === undefined)) {
    throw invalid("Give exactly one of 'experiment_id' and 'registered_model_name'.");
  }
  return { experiment: q.experiment_id, model: q.registered_model_name };
}

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
      model_permissions: [...me.modelPermissions].map(([registered_model_name, permission]) => ({ registered_model_name, permission })),
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
    const { username, permission } = req.body;
    const target = permissionTargetOf(req.body);
    if (target.model !== undefined) await svc.setModelPermission(callerOf(req), { name: target.model, username, permission });
    else await svc.setPermission(callerOf(req), { experimentId: target.experiment!, username, permission });
    return {};
  });
  r.post(`${base}/permissions/delete`, { schema: { body: deletePermissionBody } }, async (req) => {
    const target = permissionTargetOf(req.body);
    if (target.model !== undefined) await svc.deleteModelPermission(callerOf(req), { name: target.model, username: req.body.username });
    else await svc.deletePermission(callerOf(req), { experimentId: target.experiment!, username: req.body.username });
    return {};
  });
  r.get(`${base}/permissions/list`, { schema: { querystring: permissionsQuery } }, async (req) => {
    const target = permissionTargetOf(req.query);
    if (target.model !== undefined) {
      return {
        permissions: (await svc.listModelPermissions(callerOf(req), target.model)).map((p) => ({ registered_model_name: p.name, username: p.username, permission: p.permission })),
      };
    }
    return {
      permissions: (await svc.listPermissions(callerOf(req), target.experiment!)).map((p) => ({ experiment_id: p.experimentId, username: p.username, permission: p.permission })),
    };
  });

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
