import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp, type AppDeps } from '../server/app.js';
import { ensureFirstAdmin } from '../server/auth/bootstrap.js';
import type { ConnectionLimits } from '../server/http/limits.js';
import { createLocalArtifactStore } from '../server/artifacts/local.js';
import { createS3ArtifactStore } from '../server/artifacts/s3.js';
import type { S3Location } from '../server/artifacts/s3-location.js';
import type { Db } from '../server/store/db.js';
import { createPool, migratePostgres } from '../server/store/postgres/db.js';
import { openPostgresStore } from '../server/store/postgres/index.js';
import { openSqliteStore } from '../server/store/sqlite/index.js';
import type { TrackingStore } from '../server/store/types.js';
import { parseJsonOr } from './support/json.js';
import { createDatabase, dropDatabase, postgresSkip } from './support/postgres.js';
import { freshBucket } from './support/s3.js';
import { localStored, s3Stored, type ArtifactBackend, type StoredArtifacts } from './support/stored-artifacts.js';

export type TestApp = Awaited<ReturnType<typeof buildTestApp>>;

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

/** Auth settings for a test app; `auth: {}` turns auth on with the first admin ADMIN. */
export type TestAuth = Partial<Omit<NonNullable<AppDeps['config']>, 'bodyLimit' | 'maxArtifactBytes' | 'auth'>>;

export type Backend = 'sqlite' | 'postgres';

/** The backends a parameterized suite runs on, each with its skip reason (false: runs). */
export function backends(): Array<{ backend: Backend; skip: string | false }> {
  return [
    { backend: 'sqlite', skip: false },
    { backend: 'postgres', skip: postgresSkip() ?? false },
  ];
}

export type { ArtifactBackend };

/** The artifact stores a parameterized suite runs on: files in the data dir, and objects on s3rver. */
export function artifactBackends(): ArtifactBackend[] {
  return ['local', 's3'];
}

/** The store a test app keeps its artifacts in, and a way to look at what it holds from outside lablog. */
async function openArtifacts(backend: ArtifactBackend | S3Location, dir: string): Promise<{ artifacts: AppDeps['artifacts']; stored: StoredArtifacts }> {
  if (backend === 'local') return { artifacts: createLocalArtifactStore(path.join(dir, 'artifacts')), stored: localStored(path.join(dir, 'artifacts')) };
  const loc = backend === 's3' ? await freshBucket() : backend;
  return { artifacts: createS3ArtifactStore(loc), stored: s3Stored(loc) };
}

/** lablog's migrations, run once on the test cluster's template database (support/postgres.ts). */
async function migrateTemplate(url: string): Promise<void> {
  const pool = createPool(url, 1);
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
}

/**
 * A fresh store: a SQLite file in `dir`, or (backend 'postgres') a fresh database on the test process's
 * PostgreSQL cluster (`url`, for a lablog process to open too); `drop()` removes that database.
 */
export async function openTestStore(
  backend: Backend,
  dir: string,
): Promise<{ store: TrackingStore; db: Db | null; pool: import('pg').Pool | null; url: string | null; drop: () => Promise<void> }> {
  if (backend === 'sqlite') {
    const store = openSqliteStore(dir);
    return { store, db: store.db, pool: null, url: null, drop: async () => {} };
  }
  const url = await createDatabase({ migrated: migrateTemplate });
  const store = await openPostgresStore(url, { poolSize: 4 });
  return { store, db: null, pool: store.pool, url, drop: () => dropDatabase(url) };
}

/** Rows of a query on either backend's database; `?` placeholders. */
export async function sqlRows<T = Record<string, unknown>>(on: { db: Db | null; pool: import('pg').Pool | null }, text: string, ...params: unknown[]): Promise<T[]> {
  if (on.pool === null) {
    const statement = on.db!.prepare(text);
    // A write (UPDATE, DELETE) returns no rows, as on PostgreSQL.
    if (!statement.reader) {
      statement.run(...params);
      return [];
    }
    return statement.all(...params) as T[];
  }
  let n = 0;
  return (await on.pool.query(text.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
}

/**
 * A fresh app over a fresh store: a SQLite file in its own temp dir, or (backend 'postgres') a fresh
 * database on the test process's PostgreSQL cluster; `close()` removes everything.
 */
export async function buildTestApp(
  opts: {
    backend?: Backend;
    /** Where artifacts are kept: the data dir (default), a fresh bucket on the test process's s3rver, or the bucket given. */
    artifacts?: ArtifactBackend | S3Location;
    now?: () => number;
    maxArtifactBytes?: number;
    artifactListPageSize?: number;
    webRoot?: string;
    auth?: TestAuth;
    corsOrigins?: string[];
    limits?: Partial<ConnectionLimits>;
  } = {},
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-test-'));
  const backend = opts.backend ?? 'sqlite';
  const { store, db, pool, url, drop } = await openTestStore(backend, dir);
  const { artifacts, stored } = await openArtifacts(opts.artifacts ?? 'local', dir);
  const clock = { now: opts.now ?? (() => Date.now()) };
  const config = {
    bodyLimit: 8 * 1024 * 1024,
    maxArtifactBytes: opts.maxArtifactBytes ?? 10 * 1024 ** 3,
    artifactListPageSize: opts.artifactListPageSize,
    corsOrigins: opts.corsOrigins,
    ...opts.limits,
    ...(opts.auth ? { auth: true, ...opts.auth } : {}),
  };
  if (opts.auth) await ensureFirstAdmin(store, ADMIN.username, ADMIN.password, clock.now());
  const app: FastifyInstance = await buildApp({ config, store, artifacts, logger: false, clock, webRoot: opts.webRoot });
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>) => {
    const opts: InjectOptions = { method, url: url.startsWith('/') ? url : `/api/2.0/mlflow/${url}`, headers };
    if (payload !== undefined) {
      if (method === 'GET') opts.query = payload as Record<string, string>;
      else opts.payload = payload as InjectOptions['payload'];
    }
    return injectJson(app, opts);
  };
  return {
    app,
    store,
    backend,
    /** The PostgreSQL database's URL (null on SQLite), for a lablog process to open. */
    databaseUrl: url,
    artifactsDir: path.join(dir, 'artifacts'),
    /** What the artifact store holds, read from its files or bucket directly. */
    stored,
    /** The SQLite connection (SQLite only; backend-neutral tests use `sql`). */
    get db(): Db {
      if (db === null) throw new Error('t.db is the SQLite connection; this app runs on PostgreSQL (use t.sql)');
      return db;
    },
    /** Rows of a query on the app's own database, either backend; `?` placeholders. */
    sql: <T = Record<string, unknown>>(text: string, ...params: unknown[]) => sqlRows<T>({ db, pool }, text, ...params),
    dir,
    get: (url: string, query?: Record<string, string | string[]>) => call('GET', url, query),
    post: (url: string, body?: unknown, headers?: Record<string, string>) => call('POST', url, body, headers),
    /** Any method, with headers (credentials); GET payloads go to the query string. */
    call,
    async close() {
      await app.close();
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One inject, its body parsed as JSON when it is JSON (else json is undefined); never throws on an error status. */
export async function injectJson(app: FastifyInstance, opts: InjectOptions) {
  const res = await app.inject(opts);
  return { status: res.statusCode, json: parseJsonOr(res.body, undefined), body: res.body, headers: res.headers };
}

/** Serves the app on a free loopback port (for tests over a real socket); returns the port. */
export async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return (t.app.server.address() as AddressInfo).port;
}

/** Creates an experiment and a run in it; returns their ids. */
export async function seedRun(t: TestApp, opts: { experiment?: string; runName?: string; tags?: { key: string; value: string }[] } = {}) {
  let experimentId = '0';
  if (opts.experiment) {
    const found = await t.get('experiments/get-by-name', { experiment_name: opts.experiment });
    experimentId = found.status === 200 ? found.json.experiment.experiment_id : (await t.post('experiments/create', { name: opts.experiment })).json.experiment_id;
  }
  const res = await t.post('runs/create', { experiment_id: experimentId, run_name: opts.runName, tags: opts.tags ?? [] });
  if (res.status !== 200) throw new Error(`runs/create failed: ${res.body}`);
  return { experimentId, runId: res.json.run.info.run_id as string };
}
