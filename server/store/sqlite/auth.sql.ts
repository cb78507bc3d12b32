import { alreadyExists, notFound } from '../../errors.js';
import { ANYONE, permissionsChanged, userChanged, type AuthFeed } from '../auth-feed.js';
import type { AuditEntry, AuditQuery, AuthStore, Permission, TokenRecord, UserRecord } from '../auth-types.js';
import type { Page } from '../types.js';
import type { Db } from '../db.js';
import { experimentKey } from './experiments.sql.js';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string | null;
  role: UserRecord['role'];
  auth_source: UserRecord['authSource'];
  created_at: number;
  updated_at: number;
}

export interface TokenRow {
  id: number;
  user_id: number;
  username: string;
  name: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export const USER_COLUMNS = 'id, username, password_hash, role, auth_source, created_at, updated_at';
/** The user's columns beside another table's, each as u_<column> (read back with `prefixed`). */
export const USER_AS_U = USER_COLUMNS.split(', ').map((c) => `u.${c} AS u_${c}`).join(', ');
export const TOKEN_COLUMNS = 't.id, t.user_id, u.username, t.name, t.token_hash, t.created_at, t.expires_at, t.last_used_at, t.revoked_at';

export const user = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  role: r.role,
  authSource: r.auth_source,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const token = (r: TokenRow): TokenRecord => ({
  id: r.id,
  userId: r.user_id,
  username: r.username,
  name: r.name,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export const prefixed = (r: Record<string, unknown>, prefix: string) =>
  Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));

/** How often, at most, a change another process made to the file is looked for. */
export const OTHERS_EVERY_MS = 20;

export function createAuthStatements(db: Db, feed: AuthFeed): AuthStore {
  const s = {
    // Changes when another connection (another process: a `lablog users` command) commits to the file.
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    countUsers: db.prepare<[], number>('SELECT count(*) FROM users').pluck(),
    insertUser: db.prepare<[string, string | null, string, string, number, number], UserRow>(
      `INSERT INTO users (username, password_hash, role, auth_source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING RETURNING ${USER_COLUMNS}`,
    ),
    userByName: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`),
    userById: db.prepare<[number], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`),
    updateUser: db.prepare<[string | null, string | null, number, string], UserRow>(
      `UPDATE users SET role = coalesce(?, role), password_hash = coalesce(?, password_hash), updated_at = ? WHERE username = ? RETURNING ${USER_COLUMNS}`,
    ),
    deleteUser: db.prepare<[string], number>('DELETE FROM users WHERE username = ? RETURNING id').pluck(),
    // A password change ends the user's browser sessions elsewhere.
    deleteSessionsOf: db.prepare<[string]>('DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)'),

    insertToken: db.prepare<[number, string, string, number, number | null], { id: number }>(
      'INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
    ),
    tokenByHash: db.prepare<[string], Record<string, unknown>>(
      `SELECT ${TOKEN_COLUMNS}, ${USER_AS_U} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`,
    ),
    tokenById: db.prepare<[number], TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`),
    tokensOf: db.prepare<[number], TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ? AND t.revoked_at IS NULL ORDER BY t.id`,
    ),
    allTokens: db.prepare<[], TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.revoked_at IS NULL ORDER BY u.username, t.id`,
    ),
    revokeToken: db.prepare<[number, number], number>('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING user_id').pluck(),
    touchToken: db.prepare<[number, number]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),

    insertSession: db.prepare<[string, number, string, number, number]>(
      'INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    sessionByHash: db.prepare<[string, number], Record<string, unknown>>(
      `SELECT s.user_id AS s_user_id, s.csrf_token AS s_csrf_token, s.expires_at AS s_expires_at, ${USER_AS_U} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_at > ?`,
    ),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?'),
    purgeSessions: db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?'),

    experimentExists: db.prepare<[number], number>('SELECT 1 FROM experiments WHERE experiment_id = ?').pluck(),
    setPermission: db.prepare<[number, number, string]>(
      'INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES (?, ?, ?) ON CONFLICT (experiment_id, user_id) DO UPDATE SET permission = excluded.permission',
    ),
    deletePermission: db.prepare<[number, number]>('DELETE FROM experiment_permissions WHERE experiment_id = ? AND user_id = ?'),
    listPermissions: db.prepare<[number], { experiment_id: number; username: string; permission: Permission }>(
      'SELECT p.experiment_id, u.username, p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE p.experiment_id = ? ORDER BY u.username',
    ),
    permissionsOf: db.prepare<[number], { experiment_id: number; permission: Permission }>(
      'SELECT experiment_id, permission FROM experiment_permissions WHERE user_id = ?',
    ),

    appendAudit: db.prepare<[number, string, string, string, number, string | null, string | null]>(
      'INSERT INTO audit_log (time, username, method, route, status, experiment_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
  };

  const existingExperiment = (id: string): number => {
    const key = experimentKey(id);
    if (key === null || !s.experimentExists.get(key)) throw notFound(`No Experiment with id=${id} exists`);
    return key;
  };

  let dataVersion = s.dataVersion.get();
  let versionReadAt = performance.now();

  return {
    onAuthChanged: feed.onAuthChanged,
    authChangesHeard() {
      // This process's own writes tell the listeners themselves; another's show as a new data version,
      // which says nothing of what it changed. Reading it takes a read lock (some µs, as much as a
      // small query), so a busy server reads it every OTHERS_EVERY_MS, not on every request.
      const at = performance.now();
      if (at - versionReadAt >= OTHERS_EVERY_MS) {
        versionReadAt = at;
        const now = s.dataVersion.get();
        if (now !== dataVersion) {
          dataVersion = now;
          feed.emit(ANYONE);
        }
      }
      return true;
    },
    countUsers: async () => s.countUsers.get() ?? 0,
    async createUser(u) {
      const row = s.insertUser.get(u.username, u.passwordHash, u.role, u.authSource, u.now, u.now);
      if (!row) throw alreadyExists(`User '${u.username}' already exists.`);
      return user(row);
    },
    getUser: async (username) => {
      const row = s.userByName.get(username);
      return row ? user(row) : null;
    },
    getUserById: async (id) => {
      const row = s.userById.get(id);
      return row ? user(row) : null;
    },
    listUsers: async () => s.listUsers.all().map(user),
    async updateUser(username, u, now) {
      const apply = db.transaction(() => {
        const row = s.updateUser.get(u.role ?? null, u.passwordHash ?? null, now, username);
        if (!row) throw notFound(`User with username '${username}' not found.`);
        if (u.passwordHash !== undefined) s.deleteSessionsOf.run(username);
        return row;
      });
      const row = apply();
      feed.emit(userChanged(row.id));
      return user(row);
    },
    deleteUser: async (username) => {
      const id = s.deleteUser.get(username);
      if (id === undefined) return false;
      feed.emit(userChanged(id));
      return true;
    },

    async createToken(t) {
      const { id } = s.insertToken.get(t.userId, t.name, t.tokenHash, t.now, t.expiresAt)!;
      return token(s.tokenById.get(id)!);
    },
    tokenByHash: async (hash) => {
      const row = s.tokenByHash.get(hash);
      if (!row) return null;
      return { token: token(row as unknown as TokenRow), user: user(prefixed(row, 'u_') as unknown as UserRow) };
    },
    listTokens: async (userId) => (userId === null ? s.allTokens.all() : s.tokensOf.all(userId)).map(token),
    getToken: async (id) => {
      const row = s.tokenById.get(id);
      return row ? { ...token(row), tokenHash: row.token_hash } : null;
    },
    revokeToken: async (id, now) => {
      const userId = s.revokeToken.get(now, id);
      if (userId !== undefined) feed.emit(userChanged(userId));
    },
    touchToken: async (id, now) => void s.touchToken.run(now, id),

    async createSession(x) {
      s.purgeSessions.run(x.now);
      s.insertSession.run(x.idHash, x.userId, x.csrfToken, x.now, x.expiresAt);
    },
    sessionByHash: async (hash, now) => {
      const row = s.sessionByHash.get(hash, now);
      if (!row) return null;
      return {
        session: { userId: row.s_user_id as number, csrfToken: row.s_csrf_token as string, expiresAt: row.s_expires_at as number },
        user: user(prefixed(row, 'u_') as unknown as UserRow),
      };
    },
    deleteSession: async (hash) => void s.deleteSession.run(hash),

    setPermission: async (experimentId, userId, permission) => {
      s.setPermission.run(existingExperiment(experimentId), userId, permission);
      feed.emit(permissionsChanged(userId));
    },
    deletePermission: async (experimentId, userId) => {
      if (s.deletePermission.run(existingExperiment(experimentId), userId).changes === 0) return false;
      feed.emit(permissionsChanged(userId));
      return true;
    },
    listPermissions: async (experimentId) =>
      s.listPermissions.all(existingExperiment(experimentId)).map((r) => ({ experimentId: String(r.experiment_id), username: r.username, permission: r.permission })),
    permissionsOf: async (userId) => new Map(s.permissionsOf.all(userId).map((r) => [String(r.experiment_id), r.permission])),

    appendAudit: async (e) => void s.appendAudit.run(e.time, e.username, e.method, e.route, e.status, e.experimentId, e.runId),
    async listAudit(q) {
      const { text, values } = auditPageQuery(q, () => '?');
      return auditPage(q, db.prepare(text).all(...values) as AuditEntry[]);
    },
  };
}

/**
 * The audit page's query, newest first, with one row more than the page to tell whether another
 * follows; `placeholder(n)` spells the n-th parameter in the backend's syntax.
 */
export function auditPageQuery(q: AuditQuery, placeholder: (n: number) => string): { text: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (cond: string, v: unknown) => {
    values.push(v);
    where.push(`${cond} ${placeholder(values.length)}`);
  };
  if (q.username !== undefined) add('username =', q.username);
  if (q.experimentId !== undefined) add('experiment_id =', q.experimentId);
  if (q.startTime !== undefined) add('time >=', q.startTime);
  if (q.endTime !== undefined) add('time <=', q.endTime);
  values.push(q.limit + 1, q.offset);
  const text =
    'SELECT id, time, username, method, route, status, experiment_id AS "experimentId", run_id AS "runId" FROM audit_log' +
    `${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ${placeholder(values.length - 1)} OFFSET ${placeholder(values.length)}`;
  return { text, values };
}

export function auditPage(q: AuditQuery, rows: AuditEntry[]): Page<AuditEntry> {
  const more = rows.length > q.limit;
  return { items: more ? rows.slice(0, q.limit) : rows, nextOffset: more ? q.offset + q.limit : null };
}
