import type pg from 'pg';
import { alreadyExists, notFound } from '../../errors.js';
import { permissionsChanged, userChanged, type AuthFeed } from '../auth-feed.js';
import type { AuditEntry, AuthChanges, AuthStore, Permission } from '../auth-types.js';
import { experimentKey } from '../sqlite/experiments.sql.js';
import { auditPage, auditPageQuery, prefixed, token, TOKEN_COLUMNS, user, USER_AS_U, USER_COLUMNS, type TokenRow, type UserRow } from '../sqlite/auth.sql.js';
import { writeAuth } from './auth-changes.js';
import type { Queryable } from './db.js';

// Usernames sort as SQLite sorts them (by code point), not by the cluster's locale.
const BY_USERNAME = 'username COLLATE "C"';
const TOKENS_FROM = 'api_tokens t JOIN users u ON u.id = t.user_id';

/**
 * Users, tokens, sessions, permissions and the audit log on PostgreSQL, as store/sqlite/auth.sql.ts;
 * each change a cache must hear of goes out through writeAuth (the store hears them in auth-changes.ts).
 */
export function createPgAuth(pool: pg.Pool, feed: AuthFeed): Omit<AuthStore, keyof AuthChanges> {
  const one = async <T extends object>(q: Queryable, text: string, values: unknown[] = []): Promise<T | undefined> =>
    (await q.query<T>(text, values)).rows[0];
  const all = async <T extends object>(text: string, values: unknown[] = []): Promise<T[]> => (await pool.query<T>(text, values)).rows;

  const tokenById = (id: number) => one<TokenRow>(pool, `SELECT ${TOKEN_COLUMNS} FROM ${TOKENS_FROM} WHERE t.id = $1`, [id]);

  const experimentOrNotFound = async (id: string): Promise<number> => {
    const key = experimentKey(id);
    if (key === null || !(await one(pool, 'SELECT 1 FROM experiments WHERE experiment_id = $1', [key]))) throw notFound(`No Experiment with id=${id} exists`);
    return key;
  };

  return {
    countUsers: async () => Number((await one<{ n: number }>(pool, 'SELECT count(*) AS n FROM users'))?.n ?? 0),
    async createUser(u) {
      const row = await one<UserRow>(
        pool,
        `INSERT INTO users (username, password_hash, role, auth_source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (username) DO NOTHING RETURNING ${USER_COLUMNS}`,
        [u.username, u.passwordHash, u.role, u.authSource, u.now],
      );
      if (!row) throw alreadyExists(`User '${u.username}' already exists.`);
      return user(row);
    },
    getUser: async (username) => {
      const row = await one<UserRow>(pool, `SELECT ${USER_COLUMNS} FROM users WHERE username = $1`, [username]);
      return row ? user(row) : null;
    },
    getUserById: async (id) => {
      const row = await one<UserRow>(pool, `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
      return row ? user(row) : null;
    },
    listUsers: async () => (await all<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY ${BY_USERNAME}`)).map(user),
    updateUser: (username, u, now) =>
      writeAuth(pool, feed, async (c, changed) => {
        const row = await one<UserRow>(
          c,
          `UPDATE users SET role = coalesce($1, role), password_hash = coalesce($2, password_hash), updated_at = $3 WHERE username = $4 RETURNING ${USER_COLUMNS}`,
          [u.role ?? null, u.passwordHash ?? null, now, username],
        );
        if (!row) throw notFound(`User with username '${username}' not found.`);
        // A password change ends the user's browser sessions elsewhere.
        if (u.passwordHash !== undefined) await c.query('DELETE FROM sessions WHERE user_id = $1', [row.id]);
        changed(userChanged(row.id));
        return user(row);
      }),
    deleteUser: (username) =>
      writeAuth(pool, feed, async (c, changed) => {
        const row = await one<{ id: number }>(c, 'DELETE FROM users WHERE username = $1 RETURNING id', [username]);
        if (row) changed(userChanged(row.id));
        return row !== undefined;
      }),

    async createToken(t) {
      const { id } = (await one<{ id: number }>(
        pool,
        'INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [t.userId, t.name, t.tokenHash, t.now, t.expiresAt],
      ))!;
      return token((await tokenById(id))!);
    },
    tokenByHash: async (hash) => {
      const row = await one<Record<string, unknown>>(pool, `SELECT ${TOKEN_COLUMNS}, ${USER_AS_U} FROM ${TOKENS_FROM} WHERE t.token_hash = $1`, [hash]);
      if (!row) return null;
      return { token: token(row as unknown as TokenRow), user: user(prefixed(row, 'u_') as unknown as UserRow) };
    },
    listTokens: async (userId) =>
      (userId === null
        ? await all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM ${TOKENS_FROM} WHERE t.revoked_at IS NULL ORDER BY u.${BY_USERNAME}, t.id`)
        : await all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM ${TOKENS_FROM} WHERE t.user_id = $1 AND t.revoked_at IS NULL ORDER BY t.id`, [userId])
      ).map(token),
    getToken: async (id) => {
      const row = await tokenById(id);
      return row ? { ...token(row), tokenHash: row.token_hash } : null;
    },
    revokeToken: (id, now) =>
      writeAuth(pool, feed, async (c, changed) => {
        const row = await one<{ user_id: number }>(c, 'UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING user_id', [now, id]);
        if (row) changed(userChanged(row.user_id));
      }),
    touchToken: async (id, now) => void (await pool.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [now, id])),

    async createSession(x) {
      await pool.query('DELETE FROM sessions WHERE expires_at <= $1', [x.now]);
      await pool.query('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
        x.idHash,
        x.userId,
        x.csrfToken,
        x.now,
        x.expiresAt,
      ]);
    },
    sessionByHash: async (hash, now) => {
      const row = await one<Record<string, unknown>>(
        pool,
        `SELECT s.user_id AS s_user_id, s.csrf_token AS s_csrf_token, s.expires_at AS s_expires_at, ${USER_AS_U}
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2`,
        [hash, now],
      );
      if (!row) return null;
      return {
        session: { userId: row.s_user_id as number, csrfToken: row.s_csrf_token as string, expiresAt: row.s_expires_at as number },
        user: user(prefixed(row, 'u_') as unknown as UserRow),
      };
    },
    deleteSession: async (hash) => void (await pool.query('DELETE FROM sessions WHERE id_hash = $1', [hash])),

    setPermission: (experimentId, userId, permission) =>
      writeAuth(pool, feed, async (c, changed) => {
        // One statement: an experiment removed between a check and the insert cannot leave a dangling grant.
        const key = experimentKey(experimentId);
        const res = await c.query(
          `INSERT INTO experiment_permissions (experiment_id, user_id, permission) SELECT experiment_id, $2, $3 FROM experiments WHERE experiment_id = $1
           ON CONFLICT (experiment_id, user_id) DO UPDATE SET permission = excluded.permission`,
          [key ?? -1, userId, permission],
        );
        if (!res.rowCount) throw notFound(`No Experiment with id=${experimentId} exists`);
        changed(permissionsChanged(userId));
      }),
    deletePermission: async (experimentId, userId) => {
      const key = await experimentOrNotFound(experimentId);
      return writeAuth(pool, feed, async (c, changed) => {
        const deleted = ((await c.query('DELETE FROM experiment_permissions WHERE experiment_id = $1 AND user_id = $2', [key, userId])).rowCount ?? 0) > 0;
        if (deleted) changed(permissionsChanged(userId));
        return deleted;
      });
    },
    listPermissions: async (experimentId) =>
      (
        await all<{ experiment_id: number; username: string; permission: Permission }>(
          `SELECT p.experiment_id, u.username, p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE p.experiment_id = $1 ORDER BY u.${BY_USERNAME}`,
          [await experimentOrNotFound(experimentId)],
        )
      ).map((r) => ({ experimentId: String(r.experiment_id), username: r.username, permission: r.permission })),
    permissionsOf: async (userId) =>
      new Map(
        (await all<{ experiment_id: number; permission: Permission }>('SELECT experiment_id, permission FROM experiment_permissions WHERE user_id = $1', [userId])).map((r) => [
          String(r.experiment_id),
          r.permission,
        ]),
      ),

    appendAudit: async (e) =>
      void (await pool.query('INSERT INTO audit_log (time, username, method, route, status, experiment_id, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        e.time,
        e.username,
        e.method,
        e.route,
        e.status,
        e.experimentId,
        e.runId,
      ])),
    async listAudit(q) {
      const { text, values } = auditPageQuery(q, (n) => `$${n}`);
      return auditPage(q, await all<AuditEntry>(text, values));
    },
  };
}
