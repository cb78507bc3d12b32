import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

// Source of truth for migrations/postgres/ (drizzle-kit generate --config drizzle.postgres.config.ts):
// the same tables, columns and indexes as the SQLite schema (store/schema.ts), in PostgreSQL's types.
// Times, steps and ids are bigint read as JS numbers (they stay below 2^53); SQLite's 0/1 flags are
// booleans; packed chunks are bytea. Keep the two schemas in step.

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
const int8 = (name: string) => bigint(name, { mode: 'number' });
/** An integer primary key the database numbers itself, as SQLite's INTEGER PRIMARY KEY. */
const serialKey = (name: string) => int8(name).primaryKey().generatedByDefaultAsIdentity();

export const experiments = pgTable('experiments', {
  experimentId: serialKey('experiment_id'),
  name: text('name').notNull().unique(),
  artifactLocation: text('artifact_location').notNull(),
  lifecycleStage: text('lifecycle_stage').notNull().default('active'),
  creationTime: int8('creation_time').notNull(),
  lastUpdateTime: int8('last_update_time').notNull(),
});

export const experimentTags = pgTable(
  'experiment_tags',
  {
    experimentId: int8('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.key] })],
);

export const runs = pgTable(
  'runs',
  {
    id: serialKey('id'),
    runUuid: text('run_uuid').notNull().unique(),
    name: text('name').notNull().default(''),
    experimentId: int8('experiment_id').notNull().references(() => experiments.experimentId),
    userId: text('user_id').notNull().default(''),
    status: text('status').notNull().default('RUNNING'),
    startTime: int8('start_time').notNull(),
    endTime: int8('end_time'),
    lifecycleStage: text('lifecycle_stage').notNull().default('active'),
    artifactUri: text('artifact_uri').notNull(),
    deletedTime: int8('deleted_time'),
    deletedWithExperiment: boolean('deleted_with_experiment').notNull().default(false),
  },
  (t) => [
    index('runs_experiment_start').on(t.experimentId, t.startTime),
    index('runs_name').on(t.name),
    // Runs of many experiments in start_time order (the web UI's runs table over all of them) walk this.
    index('runs_start_time').on(t.startTime),
  ],
);

export const params = pgTable(
  'params',
  {
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('params_key_value_run').on(t.key, t.value, t.runId)],
);

export const tags = pgTable(
  'tags',
  {
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('tags_key_value_run').on(t.key, t.value, t.runId)],
);

/** As in SQLite: one row per (run, key) with the latest point; value NULL means NaN. */
export const metricSeries = pgTable(
  'metric_series',
  {
    id: serialKey('id'),
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: doublePrecision('value'),
    step: int8('step').notNull(),
    timestamp: int8('timestamp').notNull(),
    count: int8('count').notNull().default(0),
    tailCount: integer('tail_count').notNull().default(0),
  },
  // Both directions of "order by a metric" walk an index (search.sql.ts): ascending, NULLs (NaN) last,
  // on the first; descending with NULLs last, which a backward walk of the first cannot give, on the second.
  (t) => [
    uniqueIndex('metric_series_run_key').on(t.runId, t.key),
    index('metric_series_key_value_run').on(t.key, t.value, t.runId),
    index('metric_series_key_value_desc_run').on(t.key, t.value.desc().nullsLast(), t.runId),
  ],
);

/**
 * Recent points, not yet sealed into a chunk: a row per (series, write) holding that write's points
 * for the series in arrival order, in the chunks' encoding. SQLite keeps a row per point; here a
 * 1,000-point log-batch of 10 keys writes 10 rows instead of 1,000 (each row costs PostgreSQL a heap
 * tuple, an index entry and a foreign-key check). Readers decode the pieces in `seq` order and sort
 * them by (step, timestamp) stably, which is SQLite's order of equal points by arrival.
 */
export const metricTail = pgTable(
  'metric_tail',
  {
    seq: int8('seq').notNull().generatedByDefaultAsIdentity(),
    seriesId: int8('series_id').notNull().references(() => metricSeries.id, { onDelete: 'cascade' }),
    n: integer('n').notNull(),
    minStep: int8('min_step').notNull(),
    maxStep: int8('max_step').notNull(),
    data: bytea('data').notNull(),
  },
  // Keyed by series first: the one index a piece costs is the one every read and seal walks.
  (t) => [primaryKey({ name: 'metric_tail_series_seq', columns: [t.seriesId, t.seq] })],
);

/** Packed points in store/chunk-codec.ts's encoding, byte for byte the same as in SQLite. */
export const metricChunks = pgTable(
  'metric_chunks',
  {
    id: serialKey('id'),
    seriesId: int8('series_id').notNull().references(() => metricSeries.id, { onDelete: 'cascade' }),
    n: integer('n').notNull(),
    minStep: int8('min_step').notNull(),
    maxStep: int8('max_step').notNull(),
    minTs: int8('min_ts').notNull(),
    maxTs: int8('max_ts').notNull(),
    data: bytea('data').notNull(),
    rollup: bytea('rollup'),
  },
  (t) => [index('metric_chunks_series_step').on(t.seriesId, t.minStep)],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    createdAt: int8('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('idempotency_keys_created').on(t.createdAt)],
);

export const datasets = pgTable(
  'datasets',
  {
    id: serialKey('id'),
    datasetUuid: text('dataset_uuid').notNull(),
    experimentId: int8('experiment_id').notNull().references(() => experiments.experimentId),
    name: text('name').notNull(),
    digest: text('digest').notNull(),
    sourceType: text('source_type').notNull(),
    source: text('source').notNull(),
    schema: text('schema'),
    profile: text('profile'),
  },
  (t) => [uniqueIndex('datasets_exp_name_digest').on(t.experimentId, t.name, t.digest)],
);

export const inputs = pgTable(
  'inputs',
  {
    id: serialKey('id'),
    datasetId: int8('dataset_id').notNull().references(() => datasets.id),
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  },
  (t) => [uniqueIndex('inputs_run_dataset').on(t.runId, t.datasetId)],
);

export const inputTags = pgTable(
  'input_tags',
  {
    inputId: int8('input_id').notNull().references(() => inputs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.inputId, t.key] })],
);

// An identity never hands out a number twice, so (as SQLite's AUTOINCREMENT) a purged sweep's id is
// not reused.
export const sweeps = pgTable(
  'sweeps',
  {
    id: serialKey('id'),
    experimentId: int8('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    method: text('method').notNull(),
    config: text('config').notNull(),
    status: text('status').notNull().default('RUNNING'),
    parentRunId: int8('parent_run_id').references(() => runs.id, { onDelete: 'set null' }),
    creationTime: int8('creation_time').notNull(),
    lastUpdateTime: int8('last_update_time').notNull(),
  },
  (t) => [uniqueIndex('sweeps_experiment_name').on(t.experimentId, t.name), index('sweeps_parent_run').on(t.parentRunId)],
);

export const sweepTrials = pgTable(
  'sweep_trials',
  {
    id: serialKey('id'),
    sweepId: int8('sweep_id').notNull().references(() => sweeps.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    runId: int8('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    params: text('params').notNull(),
    gridIndex: integer('grid_index'),
    status: text('status').notNull().default('RUNNING'),
    timedOut: boolean('timed_out').notNull().default(false),
    stopReason: text('stop_reason'),
    worker: text('worker').notNull().default(''),
    requestId: text('request_id'),
    startTime: int8('start_time').notNull(),
    endTime: int8('end_time'),
    heartbeatTime: int8('heartbeat_time').notNull(),
  },
  (t) => [
    uniqueIndex('sweep_trials_number').on(t.sweepId, t.number),
    uniqueIndex('sweep_trials_grid_point').on(t.sweepId, t.gridIndex).where(sql`grid_index IS NOT NULL AND NOT timed_out`),
    uniqueIndex('sweep_trials_run').on(t.runId),
    uniqueIndex('sweep_trials_request').on(t.sweepId, t.requestId).where(sql`request_id IS NOT NULL`),
    // Every `next` and heartbeat looks for the sweep's running trials (a run that ended, a silent
    // worker): with this index it reads those, not every trial the sweep ever had.
    index('sweep_trials_status').on(t.sweepId, t.status),
  ],
);

export const users = pgTable('users', {
  id: serialKey('id'),
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash'),
  role: text('role').notNull(),
  authSource: text('auth_source').notNull().default('local'),
  createdAt: int8('created_at').notNull(),
  updatedAt: int8('updated_at').notNull(),
});

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: serialKey('id'),
    userId: int8('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: int8('created_at').notNull(),
    expiresAt: int8('expires_at'),
    lastUsedAt: int8('last_used_at'),
    revokedAt: int8('revoked_at'),
  },
  (t) => [index('api_tokens_user').on(t.userId)],
);

export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: int8('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: int8('created_at').notNull(),
    expiresAt: int8('expires_at').notNull(),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

export const experimentPermissions = pgTable(
  'experiment_permissions',
  {
    experimentId: int8('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    userId: int8('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.userId] }), index('experiment_permissions_user').on(t.userId, t.experimentId)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: serialKey('id'),
    time: int8('time').notNull(),
    username: text('username').notNull(),
    method: text('method').notNull(),
    route: text('route').notNull(),
    status: integer('status').notNull(),
    experimentId: text('experiment_id'),
    runId: text('run_id'),
  },
  (t) => [index('audit_log_time').on(t.time), index('audit_log_user_time').on(t.username, t.time), index('audit_log_experiment_time').on(t.experimentId, t.time)],
);

export const registeredModels = pgTable('registered_models', {
  name: text('name').primaryKey(),
  creationTime: int8('creation_time').notNull(),
  lastUpdatedTime: int8('last_updated_time').notNull(),
  description: text('description'),
  nextVersion: integer('next_version').notNull().default(1),
});

export const registeredModelTags = pgTable(
  'registered_model_tags',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.key] })],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    version: integer('version').notNull(),
    creationTime: int8('creation_time').notNull(),
    lastUpdatedTime: int8('last_updated_time').notNull(),
    description: text('description'),
    userId: text('user_id'),
    currentStage: text('current_stage').notNull().default('None'),
    source: text('source').notNull(),
    storageLocation: text('storage_location').notNull(),
    runId: text('run_id').notNull().default(''),
    runLink: text('run_link').notNull().default(''),
    status: text('status').notNull().default('READY'),
    statusMessage: text('status_message'),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] }), index('model_versions_run').on(t.runId), index('model_versions_updated').on(t.lastUpdatedTime)],
);

export const modelVersionTags = pgTable(
  'model_version_tags',
  {
    name: text('name').notNull(),
    version: integer('version').notNull(),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.name, t.version, t.key] }),
    foreignKey({ columns: [t.name, t.version], foreignColumns: [modelVersions.name, modelVersions.version] }).onDelete('cascade').onUpdate('cascade'),
  ],
);

export const registeredModelAliases = pgTable(
  'registered_model_aliases',
  {
    name: text('name').notNull(),
    alias: text('alias').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.name, t.alias] }),
    foreignKey({ columns: [t.name, t.version], foreignColumns: [modelVersions.name, modelVersions.version] }).onDelete('cascade').onUpdate('cascade'),
  ],
);

export const registeredModelPermissions = pgTable(
  'registered_model_permissions',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    userId: int8('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.userId] }), index('registered_model_permissions_user').on(t.userId, t.name)],
);
