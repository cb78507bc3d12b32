
import { sql } from 'drizzle-orm';
import { blob, foreignKey, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Source of truth for migrations/ (drizzle-kit generate). Hot paths use prepared statements over the
// same tables; keep column names here and in the *.sql.ts statement files in step.

export const experiments = sqliteTable('experiments', {
  experimentId: integer('experiment_id').primaryKey(),
  name: text('name').notNull().unique(),
  artifactLocation: text('artifact_location').notNull(),
  lifecycleStage: text('lifecycle_stage').notNull().default('active'),
  creationTime: integer('creation_time').notNull(),
  lastUpdateTime: integer('last_update_time').notNull(),
});

export const experimentTags = sqliteTable(
  'experiment_tags',
  {
    experimentId: integer('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.key] })],
);

export const runs = sqliteTable(
  'runs',
  {
    // Internal integer key: joins over 100k runs stay cheap; run_uuid is the public id.
    id: integer('id').primaryKey(),
    runUuid: text('run_uuid').notNull().unique(),
    name: text('name').notNull().default(''),
    experimentId: integer('experiment_id').notNull().references(() => experiments.experimentId),
    userId: text('user_id').notNull().default(''),
    status: text('status').notNull().default('RUNNING'),
    startTime: integer('start_time').notNull(),
    endTime: integer('end_time'),
    lifecycleStage: text('lifecycle_stage').notNull().default('active'),
    artifactUri: text('artifact_uri').notNull(),
    deletedTime: integer('deleted_time'),
    /** Set when the run was deleted by its experiment's deletion, so restoring the experiment restores exactly these. */
    deletedWithExperiment: integer('deleted_with_experiment', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    index('runs_experiment_start').on(t.experimentId, t.startTime),
    index('runs_name').on(t.name),
    // Runs of many experiments in start_time order (the web UI's runs table over all of them) walk this.
    index('runs_start_time').on(t.startTime),
  ],
);

export const params = sqliteTable(
  'params',
  {
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('params_key_value_run').on(t.key, t.value, t.runId)],
);

export const tags = sqliteTable(
  'tags',
  {
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('tags_key_value_run').on(t.key, t.value, t.runId)],
);

/**
 * One row per (run, metric key): the series id that points hang off, and the latest point
 * (highest step, then timestamp, then value) that runs/get and search read. value NULL means NaN.
 */
export const metricSeries = sqliteTable(
  'metric_series',
  {
    id: integer('id').primaryKey(),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    /**
     * The run's experiment (a run never changes experiment), so that a search in one experiment walks
     * only that experiment's values of a metric in order (metric_series_experiment_key_value_run)
     * instead of the whole store's; migration 0013 filled it in for older rows.
     */
    experimentId: integer('experiment_id'),
    key: text('key').notNull(),
    value: real('value'),
    step: integer('step').notNull(),
    timestamp: integer('timestamp').notNull(),
    count: integer('count').notNull().default(0),
    /** Points in metric_tail's pieces for this series; at CHUNK_POINTS they are packed into a chunk. */
    tailCount: integer('tail_count').notNull().default(0),
  },
  (t) => [
    uniqueIndex('metric_series_run_key').on(t.runId, t.key),
    index('metric_series_key_value_run').on(t.key, t.value, t.runId),
    index('metric_series_experiment_key_value_run').on(t.experimentId, t.key, t.value, t.runId),
  ],
);

/**
 * Recent points of a series until there are enough to pack into a chunk: a piece per (series, write),
 * that write's points in arrival order in the chunk encoding (store/tail-pieces.ts), so a 1,000-point
 * log-batch of 10 keys writes 10 rows, not 1,000 (migration 0015). `seq` is the place of the piece's
 * first point in its series (metric_series.count when it arrived). A rowid table since migration 0016:
 * pieces are appended at its end and only their small key entries sit together by series, so a write
 * dirties a few pages however many keys it logs; a small write is merged into its series' last small
 * piece (store/sqlite/metrics.sql.ts), so a tail stays a few rows.
 */
export const metricTail = sqliteTable(
  'metric_tail',
  {
    seriesId: integer('series_id').notNull().references(() => metricSeries.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    n: integer('n').notNull(),
    minStep: integer('min_step').notNull(),
    maxStep: integer('max_step').notNull(),
    data: blob('data', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.seq] })],
);

/**
 * Packed points (see store/chunk-codec.ts), sorted by (step, timestamp), with the summary that lets a
 * sampled read use a chunk without decoding it.
 */
export const metricChunks = sqliteTable(
  'metric_chunks',
  {
    id: integer('id').primaryKey(),
    seriesId: integer('series_id').notNull().references(() => metricSeries.id, { onDelete: 'cascade' }),
    n: integer('n').notNull(),
    minStep: integer('min_step').notNull(),
    maxStep: integer('max_step').notNull(),
    minTs: integer('min_ts').notNull(),
    maxTs: integer('max_ts').notNull(),
    data: blob('data', { mode: 'buffer' }).notNull(),
    /** Per-64-point min/max/last (store/sampler.ts buildRollup); null only for chunks older than it. */
    rollup: blob('rollup', { mode: 'buffer' }),
  },
  (t) => [index('metric_chunks_series_step').on(t.seriesId, t.minStep)],
);

/**
 * Each chunk of a series summarized in 17 float64s (store/sampler.ts summarizeChunk: its id, count,
 * step and time range, min, max and last), 32 chunks to a row in the order they were written: a sampled
 * read of a 10M-point series reads 300 of these rows instead of 10,000 chunk rows. Series whose chunks
 * were written before this table have none and are read chunk by chunk, as before.
 */
export const metricChunkPages = sqliteTable(
  'metric_chunk_pages',
  {
    seriesId: integer('series_id').notNull().references(() => metricSeries.id, { onDelete: 'cascade' }),
    page: integer('page').notNull(),
    chunks: integer('chunks').notNull(),
    data: blob('data', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.page] })],
);

/**
 * Idempotency keys of log-batch requests (lablog extension): a retried request whose key was already
 * applied to the run is answered without writing again. Kept at least 24 hours.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('idempotency_keys_created').on(t.createdAt)],
);

export const datasets = sqliteTable(
  'datasets',
  {
    id: integer('id').primaryKey(),
    datasetUuid: text('dataset_uuid').notNull(),
    experimentId: integer('experiment_id').notNull().references(() => experiments.experimentId),
    name: text('name').notNull(),
    digest: text('digest').notNull(),
    sourceType: text('source_type').notNull(),
    source: text('source').notNull(),
    schema: text('schema'),
    profile: text('profile'),
  },
  (t) => [uniqueIndex('datasets_exp_name_digest').on(t.experimentId, t.name, t.digest)],
);

export const inputs = sqliteTable(
  'inputs',
  {
    id: integer('id').primaryKey(),
    datasetId: integer('dataset_id').notNull().references(() => datasets.id),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  },
  (t) => [uniqueIndex('inputs_run_dataset').on(t.runId, t.datasetId)],
);

export const inputTags = sqliteTable(
  'input_tags',
  {
    inputId: integer('input_id').notNull().references(() => inputs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.inputId, t.key] })],
);


/** A hyperparameter sweep (lablog extension): its normalized config as JSON, and its parent run. */
export const sweeps = sqliteTable(
  'sweeps',
  {
    // AUTOINCREMENT: a purged sweep's id is never given to another, so an old URL or SDK handle cannot
    // land on a different sweep.
    id: integer('id').primaryKey({ autoIncrement: true }),
    experimentId: integer('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    method: text('method').notNull(),
    config: text('config').notNull(),
    status: text('status').notNull().default('RUNNING'),
    parentRunId: integer('parent_run_id').references(() => runs.id, { onDelete: 'set null' }),
    creationTime: integer('creation_time').notNull(),
    lastUpdateTime: integer('last_update_time').notNull(),
  },
  (t) => [uniqueIndex('sweeps_experiment_name').on(t.experimentId, t.name), index('sweeps_parent_run').on(t.parentRunId)],
);

/**
 * One trial of a sweep: the params handed out and the child run that trains them. A grid point is
 * held by at most one trial that did not time out (the partial unique index), so concurrent workers
 * can never get the same point, and a timed-out trial's point is free again.
 */
export const sweepTrials = sqliteTable(
  'sweep_trials',
  {
    id: integer('id').primaryKey(),
    sweepId: integer('sweep_id').notNull().references(() => sweeps.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    params: text('params').notNull(),
    gridIndex: integer('grid_index'),
    status: text('status').notNull().default('RUNNING'),
    timedOut: integer('timed_out', { mode: 'boolean' }).notNull().default(false),
    stopReason: text('stop_reason'),
    worker: text('worker').notNull().default(''),
    /** The worker's id for its `next` request: a retried request gets the same trial, not a second one. */
    requestId: text('request_id'),
    startTime: integer('start_time').notNull(),
    endTime: integer('end_time'),
    heartbeatTime: integer('heartbeat_time').notNull(),
  },
  (t) => [
    uniqueIndex('sweep_trials_number').on(t.sweepId, t.number),
    uniqueIndex('sweep_trials_grid_point').on(t.sweepId, t.gridIndex).where(sql`grid_index IS NOT NULL AND timed_out = 0`),
    uniqueIndex('sweep_trials_run').on(t.runId),
    uniqueIndex('sweep_trials_request').on(t.sweepId, t.requestId).where(sql`request_id IS NOT NULL`),
  ],
);

// Team hosting (auth). Users log in with a password (scrypt), a token (stored as its SHA-256) or a
// browser session (stored as its SHA-256 too), so a stolen database file holds no usable secret.

export const users = sqliteTable('users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  username: text('username').notNull().unique(),
  /** scrypt$N$r$p$salt$hash; null for users who only sign in through OIDC or a trusted proxy. */
  passwordHash: text('password_hash'),
  role: text('role').notNull(),
  authSource: text('auth_source').notNull().default('local'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_tokens_user').on(t.userId)],
);

export const sessions = sqliteTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

export const experimentPermissions = sqliteTable(
  'experiment_permissions',
  {
    experimentId: integer('experiment_id').notNull().references(() => experiments.experimentId, { onDelete: 'cascade' }),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.userId] }), index('experiment_permissions_user').on(t.userId, t.experimentId)],
);

/** Who wrote what: one row per write request (kept when the user is deleted, by name). */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    time: integer('time').notNull(),
    username: text('username').notNull(),
    method: text('method').notNull(),
    route: text('route').notNull(),
    status: integer('status').notNull(),
    experimentId: text('experiment_id'),
    runId: text('run_id'),
  },
  (t) => [index('audit_log_time').on(t.time), index('audit_log_user_time').on(t.username, t.time), index('audit_log_experiment_time').on(t.experimentId, t.time)],
);

// Model Registry (MLflow's registered models and their versions). The model's name is its key, as in
// MLflow; every child row points at it with ON UPDATE CASCADE, so a rename carries versions, tags,
// aliases and permissions in one statement.

export const registeredModels = sqliteTable('registered_models', {
  name: text('name').primaryKey(),
  creationTime: integer('creation_time').notNull(),
  lastUpdatedTime: integer('last_updated_time').notNull(),
  description: text('description'),
  /** The number the next version gets: versions never repeat, also after the newest is deleted. */
  nextVersion: integer('next_version').notNull().default(1),
});

export const registeredModelTags = sqliteTable(
  'registered_model_tags',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.key] })],
);

export const modelVersions = sqliteTable(
  'model_versions',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    version: integer('version').notNull(),
    creationTime: integer('creation_time').notNull(),
    lastUpdatedTime: integer('last_updated_time').notNull(),
    description: text('description'),
    userId: text('user_id'),
    currentStage: text('current_stage').notNull().default('None'),
    source: text('source').notNull(),
    /** Where get-download-uri points: the source, or for runs:/ and models:/ sources what they resolved to. */
    storageLocation: text('storage_location').notNull(),
    runId: text('run_id').notNull().default(''),
    runLink: text('run_link').notNull().default(''),
    status: text('status').notNull().default('READY'),
    statusMessage: text('status_message'),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] }), index('model_versions_run').on(t.runId), index('model_versions_updated').on(t.lastUpdatedTime)],
);

export const modelVersionTags = sqliteTable(
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

export const registeredModelAliases = sqliteTable(
  'registered_model_aliases',
  {
    name: text('name').notNull(),
    alias: text('alias').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.name, t.alias] }),
    // Deleting a version drops the aliases pointing at it (MLflow does the same).
    foreignKey({ columns: [t.name, t.version], foreignColumns: [modelVersions.name, modelVersions.version] }).onDelete('cascade').onUpdate('cascade'),
  ],
);

/** A user's permission on one registered model (READ/EDIT/MANAGE or NO_PERMISSIONS), as for experiments. */
export const registeredModelPermissions = sqliteTable(
  'registered_model_permissions',
  {
    name: text('name').notNull().references(() => registeredModels.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.userId] }), index('registered_model_permissions_user').on(t.userId, t.name)],
);
