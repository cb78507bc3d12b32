import type pg from 'pg';
import type { ImportedModelVersion, ImportedRegisteredModel } from '../registry-types.js';
import { modelNotFound } from '../sqlite/registry.sql.js';
import { transaction } from './db.js';
import { setModelTag, setVersionTag } from './registry.sql.js';

/**
 * The registry copied from another server (the MLflow importer) on PostgreSQL, as
 * store/sqlite/registry-import.sql.ts: idempotent upserts with the source's timestamps, numbers and
 * stages; the model's version counter stays above every imported number.
 */
export function createPgRegistryImport(pool: pg.Pool) {
  return {
    importRegisteredModel: (m: ImportedRegisteredModel) =>
      transaction(pool, async (c) => {
        await c.query(
          `INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES ($1, $2, $3, $4, 1)
           ON CONFLICT (name) DO UPDATE SET creation_time = excluded.creation_time, last_updated_time = excluded.last_updated_time, description = excluded.description`,
          [m.name, m.creationTime, m.lastUpdatedTime, m.description],
        );
        for (const t of m.tags) await setModelTag(c, m.name, t);
      }),
    importModelVersion: (v: ImportedModelVersion) =>
      transaction(pool, async (c) => {
        // The model's row lock: a version created meanwhile by a lablog user waits for the raised counter.
        if (!(await c.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [v.name])).rowCount) throw modelNotFound(v.name);
        await c.query(
          `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'READY')
           ON CONFLICT (name, version) DO UPDATE SET creation_time = excluded.creation_time, last_updated_time = excluded.last_updated_time,
             description = excluded.description, user_id = excluded.user_id, current_stage = excluded.current_stage, source = excluded.source,
             storage_location = excluded.storage_location, run_id = excluded.run_id, run_link = excluded.run_link`,
          [v.name, v.version, v.creationTime, v.lastUpdatedTime, v.description, v.userId, v.currentStage, v.source, v.storageLocation, v.runId, v.runLink],
        );
        await c.query('UPDATE registered_models SET next_version = GREATEST(next_version, $1) WHERE name = $2', [v.version + 1, v.name]);
        for (const t of v.tags) await setVersionTag(c, v.name, v.version, t);
      }),
  };
}
