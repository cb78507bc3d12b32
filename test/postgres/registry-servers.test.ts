/**
 * The Model Registry shared by two lablog processes on one PostgreSQL database: versions created
 * through both at once get distinct consecutive numbers, stage transitions that archive the others
 * leave exactly one version in the stage, and what one server writes the other serves.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { api, cleanup, startLablog, stop, tempDir } from '../support/lablog-process.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

const skip = postgresSkip() ?? false;

describe('the Model Registry on two servers sharing PostgreSQL', { skip }, () => {
  const urls: string[] = [];
  after(async () => {
    await cleanup();
    for (const url of urls) await dropDatabase(url);
  });

  it('numbers versions created through both servers at once 1..N, and one archiving transition wins per stage', async () => {
    const db = await createDatabase();
    urls.push(db);
    const env = { LABLOG_DATABASE_URL: db };
    const [a, b] = await Promise.all([startLablog(['--port', '0', '--data-dir', tempDir()], { env }), startLablog(['--port', '0', '--data-dir', tempDir()], { env })]);
    try {
      assert.equal((await api(a.url, 'registered-models/create', { name: 'shared' })).status, 200);
      const creates = Array.from({ length: 40 }, (_, i) =>
        api(i % 2 ? a.url : b.url, 'model-versions/create', { name: 'shared', source: `s3://bucket/m/${i}`, tags: [{ key: 'i', value: String(i) }] }),
      );
      const answers = await Promise.all(creates);
      for (const r of answers) assert.equal(r.status, 200, r.text);
      const numbers = answers.map((r) => Number(r.json.model_version.version)).sort((x, y) => x - y);
      assert.deepEqual(numbers, Array.from({ length: 40 }, (_, i) => i + 1));
      // Each answer's version carries its own source and tag: no two creates shared a number.
      for (const r of answers) {
        const i = r.json.model_version.tags[0].value;
        assert.equal(r.json.model_version.source, `s3://bucket/m/${i}`);
      }

      // Every version moved to Production at once, half through each server, each archiving the others.
      const moves = numbers.map((n) => api(n % 2 ? a.url : b.url, 'model-versions/transition-stage', { name: 'shared', version: String(n), stage: 'Production', archive_existing_versions: true }));
      for (const r of await Promise.all(moves)) assert.equal(r.status, 200, r.text);
      const search = await api(b.url, "model-versions/search?filter=name%3D'shared'&max_results=100");
      const stages = search.json.model_versions.map((v: { current_stage: string }) => v.current_stage);
      assert.equal(stages.filter((s: string) => s === 'Production').length, 1, JSON.stringify(stages));
      assert.equal(stages.filter((s: string) => s === 'Archived').length, 39);

      // An alias set through one server is served by the other; the next version continues at 41.
      const winner = search.json.model_versions.find((v: { current_stage: string }) => v.current_stage === 'Production').version;
      assert.equal((await api(a.url, 'registered-models/alias', { name: 'shared', alias: 'champion', version: winner })).status, 200);
      const byAlias = await api(b.url, 'registered-models/alias?name=shared&alias=champion');
      assert.equal(byAlias.json.model_version.version, winner);
      const next = await api(b.url, 'model-versions/create', { name: 'shared', source: 's3://bucket/m/next' });
      assert.equal(next.json.model_version.version, '41');
    } finally {
      assert.deepEqual(await Promise.all([stop(a), stop(b)]), [{ code: 0, signal: null }, { code: 0, signal: null }]);
    }
  });
});
