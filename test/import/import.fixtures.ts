import { prng } from '../support/prng.js';
import type { FakePoint, FakeRun, FakeSource } from './fake-mlflow.js';

export const T0 = Date.UTC(2024, 0, 15, 9, 0, 0);
export const LONG_POINTS = 100_000;

export const id = (n: number) => n.toString(16).padStart(32, 'a');
export const RUN = {
  default: id(1),
  parent: id(2),
  childA: id(3),
  childB: id(4),
  long: id(5),
  deleted: id(6),
  s3: id(7),
  old: id(8),
};

function points(n: number, seed: number, start = 0): FakePoint[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => ({ step: start + i, timestamp: T0 + i * 7, value: rnd() * 10 - 5 }));
}

function bytes(n: number, seed: number): Buffer {
  const rnd = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
}

function run(partial: Partial<Omit<FakeRun, 'info'>> & { info: Partial<FakeRun['info']> & { run_id: string; experiment_id: string } }): FakeRun {
  const { info, ...rest } = partial;
  return {
    info: {
      run_name: `run-${info.run_id.slice(-2)}`,
      user_id: 'alice',
      status: 'FINISHED',
      start_time: T0,
      end_time: T0 + 60_000,
      artifact_uri: `mlflow-artifacts:/${info.experiment_id}/${info.run_id}/artifacts`,
      lifecycle_stage: 'active',
      ...info,
    },
    params: [],
    tags: [['mlflow.runName', info.run_name ?? `run-${info.run_id.slice(-2)}`], ['mlflow.user', 'alice']],
    datasets: [],
    metrics: new Map(),
    artifacts: new Map(),
    ...rest,
  };
}

/**
 * An MLflow server's worth of history: four experiments (one deleted, more than a page of them), a
 * parent run with two nested runs, a run with 100k points of one metric, NaN and clamped infinities,
 * repeated steps, dataset inputs, artifacts in folders (binary, empty, across list pages), a run whose
 * artifacts live in S3 (fetched through /get-artifact), and a run older than the rest.
 */
export function sourceFixture(): FakeSource {
  const parentLoss = points(40, 2);
  // Repeated step with a later timestamp, NaN and an infinity (MLflow answers DBL_MAX).
  parentLoss.push({ step: 39, timestamp: T0 + 10_000, value: 0.25 }, { step: 40, timestamp: T0 + 10_001, value: NaN }, { step: 41, timestamp: T0 + 10_002, value: Infinity });
  const runs: FakeRun[] = [
    run({ info: { run_id: RUN.default, experiment_id: '0', run_name: 'quick-check' }, params: [['lr', '0.1']], metrics: new Map([['acc', points(5, 1)]]) }),
    run({
      info: { run_id: RUN.parent, experiment_id: '1', run_name: 'sweep-parent', start_time: T0 + 1000 },
      params: [['optimizer', 'adam'], ['layers', '4'], ['note', 'ünïcødé ✓ "quoted"']],
      tags: [['mlflow.runName', 'sweep-parent'], ['mlflow.user', 'alice'], ['team', 'vision'], ['mlflow.source.name', 'train.py']],
      metrics: new Map([['loss', parentLoss], ['val/acc', points(12, 3)]]),
      datasets: [
        { name: 'cifar10', digest: 'abc123', source_type: 'http', source: '{"url": "https://example.com/cifar10.tgz"}', schema: '{"mlflow_colspec": []}', profile: '{"num_rows": 50000}', tags: [['mlflow.data.context', 'training']] },
        { name: 'cifar10-test', digest: 'def456', source_type: 'http', source: '{"url": "https://example.com/test.tgz"}', tags: [['mlflow.data.context', 'eval']] },
      ],
      artifacts: new Map([
        ['README.md', Buffer.from('# sweep\n')],
        ['model/MLmodel', Buffer.from('artifact_path: model\nflavors:\n  python_function: {}\n')],
        ['model/data/weights.bin', bytes(300_000, 4)],
        ['model/data/empty.txt', Buffer.alloc(0)],
        ['plots/all-bytes.bin', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
        ['plots/curve.png', bytes(5000, 5)],
      ]),
    }),
    ...[RUN.childA, RUN.childB].map((rid, i) =>
      run({
        info: { run_id: rid, experiment_id: '1', run_name: `trial-${i}`, start_time: T0 + 2000 + i, status: i === 0 ? 'FINISHED' : 'FAILED' },
        params: [['lr', String(0.01 * (i + 1))]],
        tags: [['mlflow.runName', `trial-${i}`], ['mlflow.user', 'bob'], ['mlflow.parentRunId', RUN.parent]],
        metrics: new Map([['loss', points(20, 10 + i)]]),
        artifacts: new Map([[`trial-${i}.json`, Buffer.from(`{"trial": ${i}}`)]]),
      }),
    ),
    run({
      info: { run_id: RUN.long, experiment_id: '1', run_name: 'long-training', start_time: T0 + 3000, status: 'RUNNING', end_time: undefined },
      metrics: new Map([['loss', points(LONG_POINTS, 42)], ['lr', points(3, 43)]]),
    }),
    run({ info: { run_id: RUN.deleted, experiment_id: '2', run_name: 'abandoned', lifecycle_stage: 'deleted', status: 'KILLED' }, params: [['x', '1']], metrics: new Map([['m', points(3, 6)]]) }),
    run({
      info: { run_id: RUN.s3, experiment_id: '3', run_name: 'on-s3', artifact_uri: `s3://bucket/mlruns/3/${RUN.s3}/artifacts` },
      artifacts: new Map([['out/result.csv', Buffer.from('a,b\n1,2\n')]]),
    }),
    // From a server older than run_name (MLflow < 1.29): the name is only in the tag.
    run({
      info: { run_id: RUN.old, experiment_id: '3', run_name: '', start_time: T0 - 365 * 86_400_000, end_time: T0 - 365 * 86_400_000 + 5 },
      params: [['year', '2023']],
      tags: [['mlflow.runName', 'from-last-year'], ['mlflow.user', 'alice']],
    }),
  ];
  return {
    experiments: [
      { experiment_id: '0', name: 'Default', lifecycle_stage: 'active', creation_time: T0 - 10, last_update_time: T0 - 10, artifact_location: 'mlflow-artifacts:/0', tags: [] },
      { experiment_id: '1', name: 'vision', lifecycle_stage: 'active', creation_time: T0 - 5000, last_update_time: T0 + 5000, artifact_location: 'mlflow-artifacts:/1', tags: [['mlflow.note.content', 'Image models'], ['owner', 'alice']] },
      { experiment_id: '2', name: 'nlp (archived)', lifecycle_stage: 'deleted', creation_time: T0 - 9000, last_update_time: T0 - 100, artifact_location: 'mlflow-artifacts:/2', tags: [] },
      { experiment_id: '3', name: 'tabular', lifecycle_stage: 'active', creation_time: T0 - 8000, last_update_time: T0 - 8000, artifact_location: 's3://bucket/mlruns/3', tags: [['owner', 'carol']] },
    ],
    runs,
    models: [
      {
        name: 'resnet',
        creation_timestamp: T0 + 100,
        last_updated_timestamp: T0 + 900,
        description: 'Image classifier',
        tags: [['task', 'classification']],
        aliases: [['champion', 2], ['challenger', 4]],
        versions: [
          { version: 1, creation_timestamp: T0 + 100, last_updated_timestamp: T0 + 200, current_stage: 'Archived', source: `runs:/${RUN.parent}/model`, run_id: RUN.parent, tags: [] },
          { version: 2, creation_timestamp: T0 + 300, last_updated_timestamp: T0 + 400, current_stage: 'Production', description: 'the good one', source: `mlflow-artifacts:/1/${RUN.parent}/artifacts/model`, run_id: RUN.parent, tags: [['validated', 'yes']] },
          // Version 3 was deleted on the source: 4 keeps its number.
          { version: 4, creation_timestamp: T0 + 500, last_updated_timestamp: T0 + 600, current_stage: 'Staging', source: `s3://bucket/mlruns/3/${RUN.s3}/artifacts/out`, run_id: RUN.s3, tags: [] },
        ],
      },
      { name: "bob's model", creation_timestamp: T0 + 50, last_updated_timestamp: T0 + 50, tags: [], aliases: [], versions: [] },
    ],
  };
}

/** Every point of a fake series as stored order-independently: sorted by (step, timestamp). */
export function sortedPoints(list: FakePoint[]): FakePoint[] {
  return [...list].sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
}
