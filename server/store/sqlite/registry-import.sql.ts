import type { Db } from '../db.js';
import type { ImportedModelVersion, ImportedRegisteredModel } from '../registry-types.js';
import { modelNotFound } from './registry.sql.js';

/**
 * Writes a registry copied from another server (the MLflow importer) with its own timestamps, version
 * numbers and stages. Each call is an idempotent upsert, so an import run twice or resumed writes the
 * same rows; the model's version counter stays above every imported number.
 */
export function createRegistryImportStatements(db: Db) {
  const s = {
    upsertModel: db.prepare<[string, number, number, string | null]>(
      `INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (name) DO UPDATE SET creation_time = excluded.creation_time, last_updated_time = excluded.last_updated_time, description = excluded.description`,
    ),
    modelExists: db.prepare<[string], number>('SELECT 1 FROM registered_models WHERE name = ?').pluck(),
    setModelTag: db.prepare<[string, string, string]>(
      'INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value',
    ),
    upsertVersion: db.prepare<[string, number, number, number, string | null, string | null, string, string, string, string, string]>(
      `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'READY')
       ON CONFLICT (name, version) DO UPDATE SET creation_time = excluded.creation_time, last_updated_time = excluded.last_updated_time,
         description = excluded.description, user_id = excluded.user_id, current_stage = excluded.current_stage, source = excluded.source,
         storage_location = excluded.storage_location, run_id = excluded.run_id, run_link = excluded.run_link`,
    ),
    raiseCounter: db.prepare<[number, string]>('UPDATE registered_models SET next_version = max(next_version, ?) WHERE name = ?'),
    setVersionTag: db.prepare<[string, number, string, string]>(
      'INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value',
    ),
  };
  return {
    importRegisteredModel: async (m: ImportedRegisteredModel) =>
      db.transaction(() => {
        s.upsertModel.run(m.name, m.creationTime, m.lastUpdatedTime, m.description);
        for (const t of m.tags) s.setModelTag.run(m.name, t.key, t.value);
      })(),
    importModelVersion: async (v: ImportedModelVersion) =>
      db.transaction(() => {
        if (!s.modelExists.get(v.name)) throw modelNotFound(v.name);
        s.upsertVersion.run(v.name, v.version, v.creationTime, v.lastUpdatedTime, v.description, v.userId, v.currentStage, v.source, v.storageLocation, v.runId, v.runLink);
        s.raiseCounter.run(v.version + 1, v.name);
        for (const t of v.tags) s.setVersionTag.run(v.name, v.version, t.key, t.value);
      })(),
  };
}
