import type { Db } from '../db.js';
import type { ImportedModel, ImportedModelVersion, RegistryImportStore, UpsertCounts } from '../import-types.js';
import type { KeyValue } from '../types.js';

/**
 * The registry writes of `lablog import-mlflow`: models by name and versions by their source number,
 * upserted, so the import can run again; the model's version counter is moved past every imported
 * number, so a version registered later in lablog gets a number the source never had.
 */
export function createRegistryImportStatements(db: Db): RegistryImportStore {
  const s = {
    model: db.prepare<[string], { name: string }>('SELECT name FROM registered_models WHERE name = ?'),
    insertModel: db.prepare<[string, number, number, string | null]>(
      'INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (?, ?, ?, ?, 1)',
    ),
    updateModel: db.prepare<[number, number, string | null, string]>(
      'UPDATE registered_models SET creation_time = ?, last_updated_time = ?, description = ? WHERE name = ?',
    ),
    modelTag: db.prepare<[string, string], { value: string }>('SELECT value FROM registered_model_tags WHERE name = ? AND key = ?'),
    setModelTag: db.prepare<[string, string, string]>(
      'INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value',
    ),
    version: db.prepare<[string, number], { version: number }>('SELECT version FROM model_versions WHERE name = ? AND version = ?'),
    upsertVersion: db.prepare<[string, number, number, number, string | null, string | null, string, string, string, string, string, string | null]>(
      `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'READY', ?)
       ON CONFLICT (name, version) DO UPDATE SET creation_time = excluded.creation_time, last_updated_time = excluded.last_updated_time,
         description = excluded.description, user_id = excluded.user_id, current_stage = excluded.current_stage, source = excluded.source,
         storage_location = excluded.storage_location, run_id = excluded.run_id, run_link = excluded.run_link, status_message = excluded.status_message`,
    ),
    bumpCounter: db.prepare<[number, string]>('UPDATE registered_models SET next_version = max(next_version, ?) WHERE name = ?'),
    versionTag: db.prepare<[string, number, string], { value: string }>('SELECT value FROM model_version_tags WHERE name = ? AND version = ? AND key = ?'),
    setVersionTag: db.prepare<[string, number, string, string]>(
      'INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value',
    ),
    alias: db.prepare<[string, string], { version: number }>('SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?'),
    setAlias: db.prepare<[string, string, number]>(
      'INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version',
    ),
  };

  function upsert(list: KeyValue[], read: (key: string) => { value: string } | undefined, write: (kv: KeyValue) => void): UpsertCounts {
    const counts = { created: 0, present: 0 };
    for (const kv of list) {
      if (read(kv.key)?.value === kv.value) counts.present++;
      else {
        write(kv);
        counts.created++;
      }
    }
    return counts;
  }

  return {
    importRegisteredModel: async (m: ImportedModel) =>
      db.transaction(() => {
        const created = s.model.get(m.name) === undefined;
        if (created) s.insertModel.run(m.name, m.creationTime, m.lastUpdatedTime, m.description);
        else s.updateModel.run(m.creationTime, m.lastUpdatedTime, m.description, m.name);
        const tags = upsert(m.tags, (k) => s.modelTag.get(m.name, k), (t) => s.setModelTag.run(m.name, t.key, t.value));
        return { created, tags };
      })(),
    importModelVersion: async (v: ImportedModelVersion) =>
      db.transaction(() => {
        const created = s.version.get(v.name, v.version) === undefined;
        s.upsertVersion.run(v.name, v.version, v.creationTime, v.lastUpdatedTime, v.description, v.userId, v.currentStage, v.source, v.storageLocation, v.runId, v.runLink, v.statusMessage);
        s.bumpCounter.run(v.version + 1, v.name);
        const tags = upsert(v.tags, (k) => s.versionTag.get(v.name, v.version, k), (t) => s.setVersionTag.run(v.name, v.version, t.key, t.value));
        return { created, tags };
      })(),
    importModelAliases: async (name, aliases) =>
      db.transaction(() => {
        const counts = { created: 0, present: 0 };
        for (const a of aliases) {
          if (s.alias.get(name, a.alias)?.version === a.version) counts.present++;
          else {
            s.setAlias.run(name, a.alias, a.version);
            counts.created++;
          }
        }
        return counts;
      })(),
  };
}
