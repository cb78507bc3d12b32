/**
 * A small, hand-checkable tracking database for the search golden tests: 14 runs over 3
 * experiments, written with plain INSERTs so that the tests depend on the schema only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../../server/store/db.js';

interface RunSeed {
  name: string;
  exp: number;
  user: string;
  status: string;
  start: number;
  end: number | null;
  uuid: string;
  deleted?: boolean;
  params?: Record<string, string>;
  tags?: Record<string, string>;
  /** Latest metric values; NaN is stored as NULL. */
  metrics?: Record<string, number>;
  /** [dataset name, context tag or null]. */
  inputs?: Array<[string, string | null]>;
}

// Ties on purpose: xgb/bert-base and gpt-small/gpt-mini share a start_time, and their run_uuids
// order them against insertion order, so the run_uuid tie-break is observable.
export const RUNS: RunSeed[] = [
  { name: 'bert-base', exp: 1, user: 'ann', status: 'FINISHED', start: 1000, end: 2000, uuid: 'f01',
    params: { lr: '0.01', optimizer: 'adam', 'learning-rate': '0.01', batch: '32' },
    tags: { env: 'prod', 'model type': 'Transformer' },
    metrics: { acc: 0.91, 'val loss': 0.3, loss: 0.25 }, inputs: [['squad', 'train']] },
  { name: 'bert-large', exp: 1, user: 'bob', status: 'FINISHED', start: 1100, end: 2100, uuid: 'd02',
    params: { lr: '0.001', optimizer: 'Adam', batch: '64' }, tags: { env: 'dev', 'model type': 'transformer' },
    metrics: { acc: 0.95, 'val loss': 0.2, loss: NaN }, inputs: [['squad', 'train'], ['squad-v2', 'eval']] },
  { name: 'resnet-50', exp: 1, user: 'ann', status: 'FAILED', start: 1200, end: 1300, uuid: 'd03',
    params: { lr: '0.1', optimizer: 'sgd' }, tags: { env: 'prod' }, metrics: { acc: 0.5 } },
  { name: 'resnet-101', exp: 1, user: 'carol', status: 'RUNNING', start: 1300, end: null, uuid: 'd04',
    params: { lr: '0.01', optimizer: 'SGD', batch: '32' }, tags: { env: 'staging', note: '100%_done' },
    metrics: { acc: 0.75, loss: 0.4, 'a.b': 1 } },
  { name: 'gpt-mini', exp: 2, user: 'bob', status: 'FINISHED', start: 1400, end: 1500, uuid: 'c05',
    params: { lr: '0.0005', optimizer: 'adamw', 'learning-rate': '5e-4' }, tags: { env: 'prod', 'model type': 'GPT' },
    metrics: { acc: 0.88, 'val loss': 0.35, loss: -1.5 }, inputs: [['wiki', 'train']] },
  { name: 'gpt-small', exp: 2, user: 'dave', status: 'KILLED', start: 1400, end: 1450, uuid: 'b06',
    params: { lr: '0.001' }, metrics: { acc: NaN } },
  { name: 'lstm', exp: 2, user: 'ann', status: 'FINISHED', start: 1600, end: 1700, uuid: 'd07',
    params: { comment: 'it\'s "quoted"' }, tags: { env: 'dev' }, metrics: { loss: 0.6 } },
  { name: 'deleted-run', exp: 1, user: 'ann', status: 'FINISHED', start: 1700, end: 1800, uuid: 'd08', deleted: true,
    params: { lr: '0.01' }, tags: { env: 'prod' }, metrics: { acc: 0.99 } },
  { name: 'cnn small', exp: 1, user: 'bob', status: 'SCHEDULED', start: 900, end: null, uuid: 'd09',
    params: { optimizer: 'adam', batch: '16' }, metrics: { acc: 0.6 }, inputs: [['squad', null]] },
  { name: 'CNN-Large', exp: 1, user: 'Bob', status: 'FINISHED', start: 800, end: 950, uuid: 'd10',
    params: { lr: '1e-05' }, tags: { env: 'PROD' }, metrics: { acc: 0.7, loss: 0.1 } },
  { name: 'vit', exp: 3, user: 'erin', status: 'FINISHED', start: 2000, end: 2100, uuid: 'd11',
    params: { lr: '0.01' }, tags: { env: 'prod' }, metrics: { acc: 0.93 }, inputs: [['imagenet', 'test']] },
  { name: 'vit-deleted', exp: 3, user: 'erin', status: 'FAILED', start: 2100, end: 2200, uuid: 'd12', deleted: true,
    params: { lr: '0.01' }, tags: { env: 'prod' }, metrics: { acc: 0.97 } },
  { name: 'mlp', exp: 2, user: 'bob', status: 'FAILED', start: 500, end: 600, uuid: 'd13',
    params: { lr: '0.01', optimizer: 'adam' }, tags: { env: 'dev' }, metrics: { acc: 0.91, loss: 0.25 } },
  { name: 'xgb', exp: 1, user: 'carol', status: 'FINISHED', start: 1000, end: 1050, uuid: 'a14',
    params: { lr: '0.3' }, tags: { note: '50% off [v2]*' }, metrics: { acc: 0.8, loss: 0.05 } },
];

export const DATASETS: Array<{ exp: number; name: string; digest: string }> = [
  { exp: 1, name: 'squad', digest: 'd1' },
  { exp: 1, name: 'squad-v2', digest: 'd2' },
  { exp: 2, name: 'wiki', digest: 'd3' },
  { exp: 3, name: 'imagenet', digest: 'd4' },
];

// Experiment 0 ("Default") comes from the migrations; its times are pinned below.
export const EXPERIMENTS = [
  { id: 0, name: 'Default', created: 100, updated: 100, deleted: false, tags: {} },
  { id: 1, name: 'alpha', created: 300, updated: 900, deleted: false, tags: { team: 'vision', owner: 'Ann' } },
  { id: 2, name: 'beta', created: 200, updated: 800, deleted: false, tags: { team: 'nlp' } },
  { id: 3, name: 'gamma', created: 300, updated: 700, deleted: false, tags: { team: 'Vision' } },
  { id: 4, name: 'delta', created: 400, updated: 950, deleted: true, tags: { team: 'vision' } },
];

export function runUuid(name: string): string {
  const run = RUNS.find((r) => r.name === name);
  if (!run) throw new Error(`no run ${name}`);
  return run.uuid;
}

function seed(db: Db): void {
  const insertExperiment = db.prepare(
    'INSERT OR REPLACE INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertExperimentTag = db.prepare('INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)');
  const insertRun = db.prepare(
    'INSERT INTO runs (id, run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertParam = db.prepare('INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)');
  const insertTag = db.prepare('INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)');
  const insertMetric = db.prepare(
    'INSERT INTO metric_series (run_id, experiment_id, key, value, step, timestamp, count) VALUES (?, ?, ?, ?, 0, 0, 1)',
  );
  const insertDataset = db.prepare(
    "INSERT INTO datasets (id, dataset_uuid, experiment_id, name, digest, source_type, source) VALUES (?, ?, ?, ?, ?, 'local', 'file:///x')",
  );
  const insertInput = db.prepare('INSERT INTO inputs (dataset_id, run_id) VALUES (?, ?)');
  const insertInputTag = db.prepare('INSERT INTO input_tags (input_id, key, value) VALUES (?, ?, ?)');
  const artifactRoot: Record<number, string> = { 1: 's3://ml/1/', 2: 'file:///data/2/', 3: 'gs://v/3/' };

  db.transaction(() => {
    for (const e of EXPERIMENTS) {
      insertExperiment.run(e.id, e.name, `file:///exp/${e.id}`, e.deleted ? 'deleted' : 'active', e.created, e.updated);
      for (const [k, v] of Object.entries(e.tags)) insertExperimentTag.run(e.id, k, v);
    }
    DATASETS.forEach((d, i) => insertDataset.run(i + 1, `ds-${i + 1}`, d.exp, d.name, d.digest));
    RUNS.forEach((r, i) => {
      const id = i + 1;
      insertRun.run(id, r.uuid, r.name, r.exp, r.user, r.status, r.start, r.end, r.deleted ? 'deleted' : 'active', artifactRoot[r.exp] + r.uuid);
      for (const [k, v] of Object.entries(r.params ?? {})) insertParam.run(id, k, v);
      for (const [k, v] of Object.entries(r.tags ?? {})) insertTag.run(id, k, v);
      for (const [k, v] of Object.entries(r.metrics ?? {})) insertMetric.run(id, r.exp, k, Number.isNaN(v) ? null : v);
      for (const [dsName, context] of r.inputs ?? []) {
        const dsId = DATASETS.findIndex((d) => d.name === dsName) + 1;
        const input = insertInput.run(dsId, id);
        if (context !== null) insertInputTag.run(input.lastInsertRowid, 'mlflow.data.context', context);
      }
    });
  })();
}

/** Opens a fresh seeded database in a temp dir; call the returned cleanup when done. */
export function openFixture(): { db: Db; close: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lablog-search-'));
  const db = openDatabase(path.join(dir, 'lablog.db'));
  seed(db);
  return {
    db,
    close: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Maps internal run ids back to names, for readable assertions. */
export function namesOf(db: Db, ids: number[]): string[] {
  const stmt = db.prepare('SELECT name FROM runs WHERE id = ?').pluck();
  return ids.map((id) => stmt.get(id) as string);
}

export function experimentNamesOf(db: Db, ids: number[]): string[] {
  const stmt = db.prepare('SELECT name FROM experiments WHERE experiment_id = ?').pluck();
  return ids.map((id) => stmt.get(id) as string);
}
