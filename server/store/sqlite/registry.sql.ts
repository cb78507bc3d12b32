import { alreadyExists, notFound } from '../../errors.js';
import { permissionsChanged, type AuthFeed } from '../auth-feed.js';
import type { Permission } from '../auth-types.js';
import type { Db } from '../db.js';
import type { ModelVersionRecord, RegisteredModelRecord, RegistryStore, Stage } from '../registry-types.js';
import type { KeyValue } from '../types.js';
import { searchModelVersionKeys, searchRegisteredModelNames } from './registry-search.sql.js';

export interface VersionRow {
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: Stage;
  source: string;
  storage_location: string;
  run_id: string;
  run_link: string;
  status: 'READY';
  status_message: string | null;
}

export interface ModelRow {
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
}

export const VERSION_COLUMNS =
  'name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message';

export const modelNotFound = (name: string) => notFound(`Registered Model with name=${name} not found`);
export const versionNotFound = (name: string, version: number | string) => notFound(`Model Version (name=${name}, version=${version}) not found`);

/** The last value of each key wins, as MLflow's tags_dict does. */
export function lastOfEachKey(tags: KeyValue[]): KeyValue[] {
  return [...new Map(tags.map((t) => [t.key, t.value])).entries()].map(([key, value]) => ({ key, value }));
}

/**
 * A version as MLflow's entity has it. `aliases` is empty for a model's latest_versions (MLflow leaves
 * them out there).
 */
export function toVersionRecord(r: VersionRow, tags: KeyValue[], aliases: string[]): ModelVersionRecord {
  return {
    name: r.name,
    version: r.version,
    creationTime: r.creation_time,
    lastUpdatedTime: r.last_updated_time,
    description: r.description,
    userId: r.user_id,
    currentStage: r.current_stage,
    source: r.source,
    storageLocation: r.storage_location,
    runId: r.run_id,
    runLink: r.run_link,
    status: r.status,
    statusMessage: r.status_message,
    tags,
    aliases,
  };
}

export const toModelFields = (r: ModelRow) => ({ name: r.name, creationTime: r.creation_time, lastUpdatedTime: r.last_updated_time, description: r.description });

export function createRegistryStatements(db: Db, feed: AuthFeed): Omit<RegistryStore, 'importRegisteredModel' | 'importModelVersion'> {
  const s = {
    insertModel: db.prepare<[string, number, number, string | null]>(
      'INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (?, ?, ?, ?, 1) ON CONFLICT (name) DO NOTHING',
    ),
    model: db.prepare<[string], ModelRow>('SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE name = ?'),
    touchModel: db.prepare<[number, string]>('UPDATE registered_models SET last_updated_time = ? WHERE name = ?'),
    describeModel: db.prepare<[string | null, number, string]>('UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?'),
    renameModel: db.prepare<[string, number, string]>('UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?'),
    touchVersionsOf: db.prepare<[number, string]>('UPDATE model_versions SET last_updated_time = ? WHERE name = ?'),
    deleteModel: db.prepare<[string]>('DELETE FROM registered_models WHERE name = ?'),
    modelTags: db.prepare<[string], KeyValue>('SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key'),
    setModelTag: db.prepare<[string, string, string]>(
      'INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value',
    ),
    deleteModelTag: db.prepare<[string, string]>('DELETE FROM registered_model_tags WHERE name = ? AND key = ?'),
    modelAliases: db.prepare<[string], { alias: string; version: number }>('SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias'),
    setAlias: db.prepare<[string, string, number]>(
      'INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version',
    ),
    deleteAlias: db.prepare<[string, string]>('DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?'),
    aliasVersion: db.prepare<[string, string], number>('SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?').pluck(),
    versionAliases: db.prepare<[string, number], string>('SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias').pluck(),
    // The newest version per stage, listed in the order of each stage's oldest version: the order in
    // which MLflow's SqlRegisteredModel.to_mlflow_entity fills its dict while walking the versions.
    latest: db.prepare<[string], { version: number }>(
      'SELECT max(version) AS version FROM model_versions WHERE name = ? GROUP BY current_stage ORDER BY min(version)',
    ),
    takeVersion: db.prepare<[number, string], { version: number }>(
      'UPDATE registered_models SET next_version = next_version + 1, last_updated_time = ? WHERE name = ? RETURNING next_version - 1 AS version',
    ),
    insertVersion: db.prepare<[string, number, number, number, string | null, string | null, string, string, string, string]>(
      `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status)
       VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY')`,
    ),
    version: db.prepare<[string, number], VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE name = ? AND version = ?`),
    versionsOfRun: db.prepare<[string], VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE run_id = ? ORDER BY creation_time DESC, name, version DESC`),
    describeVersion: db.prepare<[string | null, number, string, number]>('UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?'),
    archiveStage: db.prepare<[number, string, number, string]>(
      "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? WHERE name = ? AND version <> ? AND current_stage = ?",
    ),
    setStage: db.prepare<[string, number, string, number]>('UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?'),
    deleteVersion: db.prepare<[string, number]>('DELETE FROM model_versions WHERE name = ? AND version = ?'),
    versionTags: db.prepare<[string, number], KeyValue>('SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key'),
    setVersionTag: db.prepare<[string, number, string, string]>(
      'INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value',
    ),
    deleteVersionTag: db.prepare<[string, number, string]>('DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?'),

    setPermission: db.prepare<[string, number, string]>(
      'INSERT INTO registered_model_permissions (name, user_id, permission) VALUES (?, ?, ?) ON CONFLICT (name, user_id) DO UPDATE SET permission = excluded.permission',
    ),
    deletePermission: db.prepare<[string, number]>('DELETE FROM registered_model_permissions WHERE name = ? AND user_id = ?'),
    listPermissions: db.prepare<[string], { name: string; username: string; permission: Permission }>(
      'SELECT p.name, u.username, p.permission FROM registered_model_permissions p JOIN users u ON u.id = p.user_id WHERE p.name = ? ORDER BY u.username',
    ),
    permissionsOf: db.prepare<[number], { name: string; permission: Permission }>('SELECT name, permission FROM registered_model_permissions WHERE user_id = ?'),
    grantees: db.prepare<[string], number>('SELECT user_id FROM registered_model_permissions WHERE name = ?').pluck(),
  };

  const modelRow = (name: string): ModelRow => {
    const row = s.model.get(name);
    if (!row) throw modelNotFound(name);
    return row;
  };

  const versionRow = (name: string, version: number): VersionRow => {
    const row = s.version.get(name, version);
    if (!row) throw versionNotFound(name, version);
    return row;
  };

  const versionRecord = (r: VersionRow, withAliases = true): ModelVersionRecord =>
    toVersionRecord(r, s.versionTags.all(r.name, r.version), withAliases ? s.versionAliases.all(r.name, r.version) : []);

  const modelRecord = (r: ModelRow): RegisteredModelRecord => ({
    ...toModelFields(r),
    latestVersions: s.latest.all(r.name).map((v) => versionRecord(s.version.get(r.name, v.version)!, false)),
    tags: s.modelTags.all(r.name),
    aliases: s.modelAliases.all(r.name),
  });

  const model = (name: string) => modelRecord(modelRow(name));

  return {
    createRegisteredModel: async (m) =>
      db.transaction(() => {
        if (s.insertModel.run(m.name, m.now, m.now, m.description).changes === 0) throw alreadyExists(`Registered Model (name=${m.name}) already exists.`);
        for (const t of lastOfEachKey(m.tags)) s.setModelTag.run(m.name, t.key, t.value);
        return model(m.name);
      })(),
    getRegisteredModel: async (name) => model(name),
    renameRegisteredModel: async (name, newName, now) => {
      const { renamed, grantees } = db.transaction(() => {
        modelRow(name);
        if (newName !== name && s.model.get(newName)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
        const grantees = s.grantees.all(name);
        // ON UPDATE CASCADE moves the versions, tags, aliases and permissions with the name.
        s.renameModel.run(newName, now, name);
        s.touchVersionsOf.run(now, newName);
        return { renamed: model(newName), grantees };
      })();
      // Their cached permissions name the old model.
      for (const userId of grantees) feed.emit(permissionsChanged(userId));
      return renamed;
    },
    updateRegisteredModel: async (name, description, now) =>
      db.transaction(() => {
        modelRow(name);
        s.describeModel.run(description, now, name);
        return model(name);
      })(),
    deleteRegisteredModel: async (name) => {
      const grantees = db.transaction(() => {
        const grantees = s.grantees.all(name);
        if (s.deleteModel.run(name).changes === 0) throw modelNotFound(name);
        return grantees;
      })();
      // A model made later under this name must not inherit the cached grants.
      for (const userId of grantees) feed.emit(permissionsChanged(userId));
    },
    searchRegisteredModels: async (q) => {
      const page = searchRegisteredModelNames(db, q);
      return { items: page.items.map((n) => model(n)), nextOffset: page.nextOffset };
    },
    setRegisteredModelTag: async (name, tag) =>
      db.transaction(() => {
        modelRow(name);
        s.setModelTag.run(name, tag.key, tag.value);
      })(),
    deleteRegisteredModelTag: async (name, key) =>
      db.transaction(() => {
        modelRow(name);
        s.deleteModelTag.run(name, key);
      })(),
    setRegisteredModelAlias: async (name, alias, version) =>
      db.transaction(() => {
        modelRow(name);
        versionRow(name, version);
        s.setAlias.run(name, alias, version);
      })(),
    deleteRegisteredModelAlias: async (name, alias) =>
      db.transaction(() => {
        modelRow(name);
        s.deleteAlias.run(name, alias);
      })(),
    getModelVersionByAlias: async (name, alias) => {
      const version = s.aliasVersion.get(name, alias);
      return version === undefined ? null : versionRecord(versionRow(name, version));
    },

    createModelVersion: async (v) =>
      db.transaction(() => {
        const taken = s.takeVersion.get(v.now, v.name);
        if (!taken) throw modelNotFound(v.name);
        s.insertVersion.run(v.name, taken.version, v.now, v.now, v.description, v.userId, v.source, v.storageLocation, v.runId, v.runLink);
        for (const t of lastOfEachKey(v.tags)) s.setVersionTag.run(v.name, taken.version, t.key, t.value);
        return versionRecord(versionRow(v.name, taken.version));
      })(),
    getModelVersion: async (name, version) => versionRecord(versionRow(name, version)),
    updateModelVersion: async (name, version, description, now) =>
      db.transaction(() => {
        versionRow(name, version);
        s.describeVersion.run(description, now, name, version);
        return versionRecord(versionRow(name, version));
      })(),
    transitionModelVersionStage: async (name, version, stage, archiveOthers, now) =>
      db.transaction(() => {
        versionRow(name, version);
        if (archiveOthers) s.archiveStage.run(now, name, version, stage);
        s.setStage.run(stage, now, name, version);
        s.touchModel.run(now, name);
        return versionRecord(versionRow(name, version));
      })(),
    deleteModelVersion: async (name, version, now) =>
      db.transaction(() => {
        versionRow(name, version);
        // The version's tags and aliases go with it (ON DELETE CASCADE); its number stays taken.
        s.deleteVersion.run(name, version);
        s.touchModel.run(now, name);
      })(),
    searchModelVersions: async (q) => {
      const page = searchModelVersionKeys(db, q);
      return { items: page.items.map((k) => versionRecord(versionRow(k.name, k.version))), nextOffset: page.nextOffset };
    },
    modelVersionsOfRun: async (runId) => s.versionsOfRun.all(runId).map((r) => versionRecord(r)),
    setModelVersionTag: async (name, version, tag) =>
      db.transaction(() => {
        versionRow(name, version);
        s.setVersionTag.run(name, version, tag.key, tag.value);
      })(),
    deleteModelVersionTag: async (name, version, key) =>
      db.transaction(() => {
        versionRow(name, version);
        s.deleteVersionTag.run(name, version, key);
      })(),

    setModelPermission: async (name, userId, permission) => {
      db.transaction(() => {
        modelRow(name);
        s.setPermission.run(name, userId, permission);
      })();
      feed.emit(permissionsChanged(userId));
    },
    deleteModelPermission: async (name, userId) => {
      modelRow(name);
      if (s.deletePermission.run(name, userId).changes === 0) return false;
      feed.emit(permissionsChanged(userId));
      return true;
    },
    listModelPermissions: async (name) => {
      modelRow(name);
      return s.listPermissions.all(name);
    },
    modelPermissionsOf: async (userId) => new Map(s.permissionsOf.all(userId).map((r) => [r.name, r.permission])),
  };
}
