import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importFromMlflow, verifyFromMlflow } from '../../server/import/import.service.js';
import type { ImportOptions } from '../../server/import/import.types.js';
import { createSourceClient } from '../../server/import/source.client.js';
import { startFakeMlflow, type FakeSource } from './fake-mlflow.js';
import { backends } from '../helper.js';
import { openTarget, rowCounts, type Target } from './import.helpers.js';
import { LONG_POINTS, RUN, sortedPoints, sourceFixture, T0 } from './import.fixtures.js';

const DOUBLE_MAX = 1.7976931348623157e308;
const ALL: ImportOptions = { experiments: [], since: null };


/** What lablog must hold for a source series: the same points, sorted, with infinities as MLflow answers them. */
const expected = (pts: { step: number; timestamp: number; value: number }[]) =>
  sortedPoints(pts).map((p) => [p.step, p.timestamp, p.value === Infinity ? DOUBLE_MAX : p.value === -Infinity ? -DOUBLE_MAX : p.value]);

async function assertSameAsSource(src: FakeSource, t: Target, skip: string[] = []) {
  for (const e of src.experiments) {
    const mine = await t.store.getExperimentByName(e.name);
    assert.ok(mine, `experiment ${e.name}`);
    assert.equal(mine.lifecycleStage, e.lifecycle_stage);
    assert.deepEqual(mine.tags, e.tags.map(([key, value]) => ({ key, value })).sort((a, b) => a.key.localeCompare(b.key)));
    if (e.name !== 'Default') {
      assert.equal(mine.creationTime, e.creation_time);
      assert.equal(mine.lastUpdateTime, e.last_update_time);
    }
  }
  for (const r of src.runs) {
    if (skip.includes(r.info.run_id)) continue;
    const mine = await t.store.getRun(r.info.run_id);
    const exp = await t.store.getExperimentByName(src.experiments.find((e) => e.experiment_id === r.info.experiment_id)!.name);
    assert.deepEqual(
      { ...mine.info },
      {
        runId: r.info.run_id,
        runName: r.info.run_name || r.tags.find(([k]) => k === 'mlflow.runName')![1],
        experimentId: exp!.experimentId,
        userId: r.info.user_id,
        status: r.info.status,
        startTime: r.info.start_time,
        endTime: r.info.end_time ?? null,
        artifactUri: `mlflow-artifacts:/${exp!.experimentId}/${r.info.run_id}/artifacts`,
        lifecycleStage: r.info.lifecycle_stage,
      },
    );
    const sorted = (l: [string, string][]) => l.map(([key, value]) => ({ key, value })).sort((a, b) => a.key.localeCompare(b.key));
    assert.deepEqual(mine.data.params, sorted(r.params));
    assert.deepEqual(mine.data.tags, sorted(r.tags));
    assert.deepEqual(
      mine.inputs.datasetInputs,
      r.datasets.map((d) => ({
        tags: sorted(d.tags),
        dataset: { name: d.name, digest: d.digest, sourceType: d.source_type, source: d.source, schema: d.schema ?? null, profile: d.profile ?? null },
      })),
    );
    assert.deepEqual(mine.data.metrics.map((m) => m.key).sort(), [...r.metrics.keys()].sort());
    for (const [key, pts] of r.metrics) {
      const { points } = await t.store.getMetricHistory({ runId: r.info.run_id, key, offset: 0, limit: null });
      const got = Array.from(points.values, (v, i) => [points.steps[i], points.timestamps[i], v]);
      assert.deepEqual(got, expected(pts), `${r.info.run_id} ${key}`);
    }
    for (const [rel, bytes] of r.artifacts) {
      const file = path.join(t.dir, 'artifacts', exp!.experimentId, r.info.run_id, 'artifacts', ...rel.split('/'));
      assert.ok(readFileSync(file).equals(bytes), `${r.info.run_id} ${rel} byte-exact`);
    }
  }
}

async function assertRegistry(t: Target) {
  const vision = (await t.store.getExperimentByName('vision'))!.experimentId;
  const tabular = (await t.store.getExperimentByName('tabular'))!.experimentId;
  const model = await t.store.getRegisteredModel('resnet');
  assert.equal(model.description, 'Image classifier');
  assert.deepEqual(model.tags, [{ key: 'task', value: 'classification' }]);
  assert.deepEqual(model.aliases, [{ alias: 'challenger', version: 4 }, { alias: 'champion', version: 2 }]);
  assert.deepEqual([model.creationTime, model.lastUpdatedTime], [T0 + 100, T0 + 900]);
  const v = async (n: number) => {
    const r = await t.store.getModelVersion('resnet', n);
    return { stage: r.currentStage, source: r.source, storage: r.storageLocation, runId: r.runId, description: r.description, tags: r.tags, aliases: r.aliases, times: [r.creationTime, r.lastUpdatedTime] };
  };
  assert.deepEqual(await v(1), { stage: 'Archived', source: `runs:/${RUN.parent}/model`, storage: `mlflow-artifacts:/${vision}/${RUN.parent}/artifacts/model`, runId: RUN.parent, description: null, tags: [], aliases: [], times: [T0 + 100, T0 + 200] });
  // A location inside the source's copy of the run now points into lablog's copy.
  assert.deepEqual(await v(2), { stage: 'Production', source: `mlflow-artifacts:/${vision}/${RUN.parent}/artifacts/model`, storage: `mlflow-artifacts:/${vision}/${RUN.parent}/artifacts/model`, runId: RUN.parent, description: 'the good one', tags: [{ key: 'validated', value: 'yes' }], aliases: ['champion'], times: [T0 + 300, T0 + 400] });
  assert.deepEqual((await v(4)).source, `mlflow-artifacts:/${tabular}/${RUN.s3}/artifacts/out`);
  assert.equal((await v(4)).stage, 'Staging');
  await assert.rejects(t.store.getModelVersion('resnet', 3), /not found/);
  assert.equal((await t.store.getRegisteredModel("bob's model")).latestVersions.length, 0);
}

// Into either backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('lablog import-mlflow: copying a server', () => {
    const src = sourceFixture();
    let fake: Awaited<ReturnType<typeof startFakeMlflow>>;
    let t: Target;
    const totalPoints = src.runs.reduce((n, r) => n + [...r.metrics.values()].reduce((m, p) => m + p.length, 0), 0);
    const totalFiles = src.runs.reduce((n, r) => n + r.artifacts.size, 0);
    const totalBytes = src.runs.reduce((n, r) => n + [...r.artifacts.values()].reduce((m, b) => m + b.length, 0), 0);

    before(async () => {
      t = await openTarget(backend);
      fake = await startFakeMlflow(src);
    });
    after(async () => {
      await fake.close();
      await t.close();
    });

    test('copies experiments, runs with their ids, params, tags, every metric point, datasets and artifacts byte-exact', async () => {
      const source = createSourceClient({ url: fake.url, baseDelayMs: 1 });
      const phases = new Set<string>();
      const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { ...ALL, onProgress: (p) => phases.add(p.phase) });
      assert.deepEqual(s.warnings, []);
      assert.deepEqual([...phases], ['experiments', 'runs', 'metrics', 'artifacts', 'registry']);
      assert.deepEqual([s.models, s.modelVersions, s.aliases], [{ created: 2, present: 0 }, { created: 3, present: 0 }, { created: 2, present: 0 }]);
      // Default exists in every lablog store: it is found by name, not created again.
      assert.deepEqual(s.experiments, { created: 3, present: 1 });
      assert.deepEqual(s.runs, { created: src.runs.length, present: 0 });
      assert.deepEqual(s.metricPoints, { created: totalPoints, present: 0 });
      assert.deepEqual(s.datasets, { created: 2, present: 0 });
      assert.deepEqual(s.artifactFiles, { created: totalFiles, present: 0 });
      assert.deepEqual(s.artifactBytes, { created: totalBytes, present: 0 });
      assert.equal(s.params.created, src.runs.reduce((n, r) => n + r.params.length, 0));
      await assertSameAsSource(src, t);
      // The 100k-point history came in get-history pages of 25000.
      assert.ok(LONG_POINTS / 25000 <= fake.counts.get('/api/2.0/mlflow/metrics/get-history')!);
      // Nested runs keep their parent link.
      const child = await t.store.getRun(RUN.childA);
      assert.equal(child.data.tags.find((x) => x.key === 'mlflow.parentRunId')?.value, RUN.parent);
      await assertRegistry(t);
      // A deleted run of a deleted experiment comes back with its experiment.
      assert.equal((await t.store.getRun(RUN.deleted)).info.lifecycleStage, 'deleted');
    });

    test('a second import duplicates nothing and fetches no history again', async () => {
      const before = await rowCounts(t);
      const histories = fake.counts.get('/api/2.0/mlflow/metrics/get-history');
      const source = createSourceClient({ url: fake.url, baseDelayMs: 1 });
      const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, ALL);
      assert.deepEqual(await rowCounts(t), before);
      assert.equal(fake.counts.get('/api/2.0/mlflow/metrics/get-history'), histories);
      assert.deepEqual(s.experiments, { created: 0, present: 4 });
      assert.deepEqual(s.runs, { created: 0, present: src.runs.length });
      assert.deepEqual(s.metricPoints, { created: 0, present: totalPoints });
      assert.deepEqual(s.artifactFiles, { created: 0, present: totalFiles });
      assert.equal(s.params.created + s.tags.created + s.datasets.created, 0);
      assert.deepEqual([s.models, s.modelVersions, s.aliases], [{ created: 0, present: 2 }, { created: 0, present: 3 }, { created: 0, present: 2 }]);
      await assertSameAsSource(src, t);
      await assertRegistry(t);
      // Numbers imported from the source are never given again: the next version registered in lablog is 5.
      const next = await t.store.createModelVersion({ name: 'resnet', source: 'runs:/x/m', storageLocation: 'runs:/x/m', runId: '', runLink: '', description: null, userId: null, tags: [], now: 1 });
      assert.equal(next.version, 5);
      await t.store.deleteModelVersion('resnet', 5, 2);
    });

    test('--verify finds no difference on a good import, and names the run after one stored value is changed', async () => {
      const source = createSourceClient({ url: fake.url, baseDelayMs: 1 });
      const good = await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, ALL);
      assert.deepEqual(good.mismatches, []);
      assert.equal(good.runs, src.runs.length);
      assert.equal(good.metricPoints, totalPoints);
      assert.equal(good.artifactFiles, totalFiles);
      assert.deepEqual([good.models, good.modelVersions], [2, 3]);

      await t.sql("UPDATE params SET value = '0.5' WHERE key = 'lr' AND run_id = (SELECT id FROM runs WHERE run_uuid = ?)", RUN.childA);
      const vision = (await t.store.getExperimentByName('vision'))!.experimentId;
      const weights = path.join(t.dir, 'artifacts', vision, RUN.parent, 'artifacts', 'model', 'data', 'weights.bin');
      const original = readFileSync(weights);
      const tampered = Buffer.from(original);
      tampered[1000] ^= 1;
      writeFileSync(weights, tampered);
      await t.store.transitionModelVersionStage('resnet', 2, 'Archived', false, 1);
      const bad = await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, ALL);
      // In the source's run order (parent first: it started earlier).
      assert.deepEqual(
        bad.mismatches.map((m) => [m.subject, m.what.split(':')[0]]),
        [
          [RUN.parent, "artifact 'model/data/weights.bin'"],
          [RUN.childA, 'params'],
          ['model resnet', 'version 2 (stage, description, run, source)'],
        ],
      );
      assert.match(bad.mismatches[1].what, /^params: source 1 \(sha256 \w{12}\), lablog 1 \(sha256 \w{12}\)$/);

      // The next import repairs the param and the stage (the source wins); the same-size artifact is verify's to catch.
      await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, ALL);
      writeFileSync(weights, original);
      assert.deepEqual((await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, ALL)).mismatches, []);
    });
  });
});
