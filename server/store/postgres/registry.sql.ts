import type pg from 'pg';
import { alreadyExists } from '../../errors.js';
import { permissionsChanged, type AuthFeed } from '../auth-feed.js';
import type { Permission } from '../auth-types.js';
import type { ModelVersionRecord, RegisteredModelRecord, RegistryStore } from '../registry-types.js';
import { modelVersionQuery, pageOf, registeredModelQuery, type RegistryDialect } from '../sqlite/registry-search.sql.js';
import {
  lastOfEachKey,
  modelNotFound,
  toModelFields,
  toVersionRecord,
  versionNotFound,
  VERSION_COLUMNS,
  type ModelRow,
  type VersionRow,
} from '../sqlite/registry.sql.js';
import type { KeyValue } from '../types.js';
import { writeAuth } from './auth-changes.js';
import { isUniqueViolation, snapshot, transaction, type Queryable } from './db.js';
import { PgBinder, valueTest } from './search.sql.js';

/** Registry search on PostgreSQL: the SQLite compiler's semantics, text in byte order as SQLite's BINARY. */
const PG_DIALECT: RegistryDialect = { binder: () => new PgBinder(), valueTest, text: (column) => `${column} COLLATE "C"` };

const MODEL_COLUMNS = 'name, creation_time, last_updated_time, description';

export const setModelTag = (q: Queryable, name: string, t: KeyValue) =>
  q.query('INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value', [name, t.key, t.value]);

export const setVersionTag = (q: Queryable, name: string, n: number, t: KeyValue) =>
  q.query('INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value', [
    name,
    n,
    t.key,
    t.value,
  ]);

/** The users with a permission of their own on a model. */
const grantees = async (c: Queryable, name: string): Promise<number[]> =>
  (await c.query<{ user_id: number }>('SELECT user_id FROM registered_model_permissions WHERE name = $1', [name])).rows.map((r) => r.user_id);

/**
 * The Model Registry on PostgreSQL with the rules, orderings and MLflow messages of
 * store/sqlite/registry.sql.ts. A write first locks the model's row, so writes to one model from
 * several servers apply one after another (a version number is never handed out twice, a stage
 * transition archives what it saw, a tag never lands on a model being deleted); reads of several
 * statements share one snapshot. Changes to who may do what go out through writeAuth.
 */
export function createPgRegistry(pool: pg.Pool, feed: AuthFeed): Omit<RegistryStore, 'importRegisteredModel' | 'importModelVersion'> {
  async function modelRow(q: Queryable, name: string, lock = false): Promise<ModelRow> {
    const r = (await q.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM registered_models WHERE name = $1${lock ? ' FOR UPDATE' : ''}`, [name])).rows[0];
    if (!r) throw modelNotFound(name);
    return r;
  }

  /** Serializes writes to one model's versions; a missing model is left to the caller's own check (its message). */
  const lockModel = (q: Queryable, name: string) => q.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [name]);

  async function versionRow(q: Queryable, name: string, version: number): Promise<VersionRow> {
    const r = (await q.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE name = $1 AND version = $2`, [name, version])).rows[0];
    if (!r) throw versionNotFound(name, version);
    return r;
  }

  async function versionRecord(q: Queryable, r: VersionRow, withAliases = true): Promise<ModelVersionRecord> {
    const tags = await q.query<KeyValue>('SELECT key, value FROM model_version_tags WHERE name = $1 AND version = $2 ORDER BY key COLLATE "C"', [r.name, r.version]);
    const aliases = withAliases
      ? (await q.query<{ alias: string }>('SELECT alias FROM registered_model_aliases WHERE name = $1 AND version = $2 ORDER BY alias COLLATE "C"', [r.name, r.version])).rows
      : [];
    return toVersionRecord(r, tags.rows, aliases.map((a) => a.alias));
  }

  async function modelRecord(q: Queryable, r: ModelRow): Promise<RegisteredModelRecord> {
    // The newest version per stage, in the order of each stage's oldest version (see the SQLite store).
    const latest = await q.query<{ version: number }>('SELECT max(version) AS version FROM model_versions WHERE name = $1 GROUP BY current_stage ORDER BY min(version)', [
      r.name,
    ]);
    const latestVersions: ModelVersionRecord[] = [];
    for (const v of latest.rows) latestVersions.push(await versionRecord(q, await versionRow(q, r.name, v.version), false));
    const tags = await q.query<KeyValue>('SELECT key, value FROM registered_model_tags WHERE name = $1 ORDER BY key COLLATE "C"', [r.name]);
    const aliases = await q.query<{ alias: string; version: number }>('SELECT alias, version FROM registered_model_aliases WHERE name = $1 ORDER BY alias COLLATE "C"', [r.name]);
    return { ...toModelFields(r), latestVersions, tags: tags.rows, aliases: aliases.rows };
  }

  const model = async (q: Queryable, name: string) => modelRecord(q, await modelRow(q, name));
  const version = async (q: Queryable, name: string, n: number) => versionRecord(q, await versionRow(q, name, n));

  const touchModel = (q: Queryable, name: string, now: number) => q.query('UPDATE registered_models SET last_updated_time = $1 WHERE name = $2', [now, name]);

  return {
    createRegisteredModel: (m) =>
      transaction(pool, async (c) => {
        const inserted = await c.query(
          'INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES ($1, $2, $2, $3, 1) ON CONFLICT (name) DO NOTHING',
          [m.name, m.now, m.description],
        );
        if (inserted.rowCount === 0) throw alreadyExists(`Registered Model (name=${m.name}) already exists.`);
        for (const t of lastOfEachKey(m.tags)) await setModelTag(c, m.name, t);
        return model(c, m.name);
      }),
    getRegisteredModel: (name) => snapshot(pool, (c) => model(c, name)),
    renameRegisteredModel: (name, newName, now) =>
      // The grantees' cached permissions name the old model.
      writeAuth(pool, feed, async (c, changed) => {
        await modelRow(c, name, true);
        for (const userId of await grantees(c, name)) changed(permissionsChanged(userId));
        const taken = () => alreadyExists(`Registered Model (name=${newName}) already exists.`);
        if (newName !== name && (await c.query('SELECT 1 FROM registered_models WHERE name = $1', [newName])).rowCount) throw taken();
        try {
          // ON UPDATE CASCADE moves the versions, tags, aliases and permissions with the name.
          await c.query('UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE name = $3', [newName, now, name]);
        } catch (err) {
          // Another server took the name between the check and the update.
          if (isUniqueViolation(err)) throw taken();
          throw err;
        }
        await c.query('UPDATE model_versions SET last_updated_time = $1 WHERE name = $2', [now, newName]);
        return model(c, newName);
      }),
    updateRegisteredModel: (name, description, now) =>
      transaction(pool, async (c) => {
        await modelRow(c, name, true);
        await c.query('UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE name = $3', [description, now, name]);
        return model(c, name);
      }),
    deleteRegisteredModel: (name) =>
      // A model made later under this name must not inherit the grantees' cached permissions.
      writeAuth(pool, feed, async (c, changed) => {
        // The row lock first: a grant being made now (it locks the row too) is either seen here or refused.
        await modelRow(c, name, true);
        for (const userId of await grantees(c, name)) changed(permissionsChanged(userId));
        await c.query('DELETE FROM registered_models WHERE name = $1', [name]);
      }),
    searchRegisteredModels: (q) =>
      snapshot(pool, async (c) => {
        const { sql, b } = registeredModelQuery(q, PG_DIALECT);
        const rows = await c.query<{ name: string }>(`${sql} LIMIT ${b.bind(q.limit + 1)}::bigint OFFSET ${b.bind(q.offset)}::bigint`, b.values);
        const page = pageOf(rows.rows, q);
        const items: RegisteredModelRecord[] = [];
        for (const r of page.items) items.push(await model(c, r.name));
        return { items, nextOffset: page.nextOffset };
      }),
    setRegisteredModelTag: (name, tag) =>
      transaction(pool, async (c) => {
        await modelRow(c, name, true);
        await setModelTag(c, name, tag);
      }),
    deleteRegisteredModelTag: (name, key) =>
      transaction(pool, async (c) => {
        await modelRow(c, name, true);
        await c.query('DELETE FROM registered_model_tags WHERE name = $1 AND key = $2', [name, key]);
      }),
    setRegisteredModelAlias: (name, alias, n) =>
      transaction(pool, async (c) => {
        await modelRow(c, name, true);
        await versionRow(c, name, n);
        await c.query(
          'INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version',
          [name, alias, n],
        );
      }),
    deleteRegisteredModelAlias: (name, alias) =>
      transaction(pool, async (c) => {
        await modelRow(c, name, true);
        await c.query('DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2', [name, alias]);
      }),
    getModelVersionByAlias: (name, alias) =>
      snapshot(pool, async (c) => {
        const r = (await c.query<{ version: number }>('SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2', [name, alias])).rows[0];
        return r === undefined ? null : version(c, name, r.version);
      }),

    createModelVersion: (v) =>
      transaction(pool, async (c) => {
        // The counter's row lock makes concurrent creates take consecutive numbers.
        const taken = (
          await c.query<{ version: number }>(
            'UPDATE registered_models SET next_version = next_version + 1, last_updated_time = $1 WHERE name = $2 RETURNING next_version - 1 AS version',
            [v.now, v.name],
          )
        ).rows[0];
        if (!taken) throw modelNotFound(v.name);
        await c.query(
          `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status)
           VALUES ($1, $2, $3, $3, $4, $5, 'None', $6, $7, $8, $9, 'READY')`,
          [v.name, taken.version, v.now, v.description, v.userId, v.source, v.storageLocation, v.runId, v.runLink],
        );
        for (const t of lastOfEachKey(v.tags)) await setVersionTag(c, v.name, taken.version, t);
        return version(c, v.name, taken.version);
      }),
    getModelVersion: (name, n) => snapshot(pool, (c) => version(c, name, n)),
    updateModelVersion: (name, n, description, now) =>
      transaction(pool, async (c) => {
        await lockModel(c, name);
        await versionRow(c, name, n);
        await c.query('UPDATE model_versions SET description = $1, last_updated_time = $2 WHERE name = $3 AND version = $4', [description, now, name, n]);
        return version(c, name, n);
      }),
    transitionModelVersionStage: (name, n, stage, archiveOthers, now) =>
      transaction(pool, async (c) => {
        await lockModel(c, name);
        await versionRow(c, name, n);
        if (archiveOthers) {
          await c.query(
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $1 WHERE name = $2 AND version <> $3 AND current_stage = $4",
            [now, name, n, stage],
          );
        }
        await c.query('UPDATE model_versions SET current_stage = $1, last_updated_time = $2 WHERE name = $3 AND version = $4', [stage, now, name, n]);
        await touchModel(c, name, now);
        return version(c, name, n);
      }),
    deleteModelVersion: (name, n, now) =>
      transaction(pool, async (c) => {
        await lockModel(c, name);
        await versionRow(c, name, n);
        // The version's tags and aliases go with it (ON DELETE CASCADE); its number stays taken.
        await c.query('DELETE FROM model_versions WHERE name = $1 AND version = $2', [name, n]);
        await touchModel(c, name, now);
      }),
    searchModelVersions: (q) =>
      snapshot(pool, async (c) => {
        const { sql, b } = modelVersionQuery(q, PG_DIALECT);
        const rows = await c.query<{ name: string; version: number }>(`${sql} LIMIT ${b.bind(q.limit + 1)}::bigint OFFSET ${b.bind(q.offset)}::bigint`, b.values);
        const page = pageOf(rows.rows, q);
        const items: ModelVersionRecord[] = [];
        for (const k of page.items) items.push(await version(c, k.name, k.version));
        return { items, nextOffset: page.nextOffset };
      }),
    modelVersionsOfRun: (runId) =>
      snapshot(pool, async (c) => {
        const rows = await c.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE run_id = $1 ORDER BY creation_time DESC, name COLLATE "C", version DESC`, [runId]);
        const out: ModelVersionRecord[] = [];
        for (const r of rows.rows) out.push(await versionRecord(c, r));
        return out;
      }),
    setModelVersionTag: (name, n, tag) =>
      transaction(pool, async (c) => {
        await lockModel(c, name);
        await versionRow(c, name, n);
        await setVersionTag(c, name, n, tag);
      }),
    deleteModelVersionTag: (name, n, key) =>
      transaction(pool, async (c) => {
        await lockModel(c, name);
        await versionRow(c, name, n);
        await c.query('DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3', [name, n, key]);
      }),

    setModelPermission: (name, userId, permission) =>
      writeAuth(pool, feed, async (c, changed) => {
        await modelRow(c, name, true);
        await c.query(
          'INSERT INTO registered_model_permissions (name, user_id, permission) VALUES ($1, $2, $3) ON CONFLICT (name, user_id) DO UPDATE SET permission = excluded.permission',
          [name, userId, permission],
        );
        changed(permissionsChanged(userId));
      }),
    deleteModelPermission: (name, userId) =>
      writeAuth(pool, feed, async (c, changed) => {
        await modelRow(c, name, true);
        const deleted = ((await c.query('DELETE FROM registered_model_permissions WHERE name = $1 AND user_id = $2', [name, userId])).rowCount ?? 0) > 0;
        if (deleted) changed(permissionsChanged(userId));
        return deleted;
      }),
    listModelPermissions: (name) =>
      snapshot(pool, async (c) => {
        await modelRow(c, name);
        const rows = await c.query<{ name: string; username: string; permission: Permission }>(
          'SELECT p.name, u.username, p.permission FROM registered_model_permissions p JOIN users u ON u.id = p.user_id WHERE p.name = $1 ORDER BY u.username COLLATE "C"',
          [name],
        );
        return rows.rows;
      }),
    modelPermissionsOf: async (userId) => {
      const rows = await pool.query<{ name: string; permission: Permission }>('SELECT name, permission FROM registered_model_permissions WHERE user_id = $1', [userId]);
      return new Map(rows.rows.map((r) => [r.name, r.permission]));
    },
  };
}
