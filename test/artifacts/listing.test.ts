// Issue 3, item 2 (listing and delete): the proxied listing `GET /mlflow-artifacts/artifacts?path=`,
// the run-relative `GET /mlflow/artifacts/list` with nested folders and paging, and DELETE.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { artifactBackends, buildTestApp, type TestApp } from '../helper.js';
import { artUrl, assertError, inject, newRun, putOk } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  let t: TestApp;
  afterEach(() => t.close());

  const listProxied = (dir: string | undefined, prefix = '/api/2.0') =>
    inject(t, 'GET', `${prefix}/mlflow-artifacts/artifacts${dir === undefined ? '' : `?path=${encodeURIComponent(dir)}`}`);

  function runList(query: Record<string, string>, prefix = '/api/2.0') {
    return inject(t, 'GET', `${prefix}/mlflow/artifacts/list?${new URLSearchParams(query)}`);
  }

  /** A run holding: a.txt (3), empty.txt (0), sub/b.txt (5), sub/deeper/c.bin (4), and an empty folder. */
  async function populatedRun() {
    const run = await newRun(t);
    await putOk(t, `${run.rootRel}/a.txt`, 'abc');
    await putOk(t, `${run.rootRel}/empty.txt`, '');
    await putOk(t, `${run.rootRel}/sub/b.txt`, 'bbbbb');
    await putOk(t, `${run.rootRel}/sub/deeper/c.bin`, Buffer.from([0, 1, 2, 3]));
    await t.stored.mkdir(`${run.rootRel}/sub/empty-folder`);
    return run;
  }

  describe('proxied listing GET /mlflow-artifacts/artifacts?path=', () => {
    it('lists basenames with is_dir and file_size, directories without file_size, sorted', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { rootRel } = await populatedRun();
      const top = await listProxied(rootRel);
      assert.equal(top.status, 200, top.text);
      assert.deepEqual(top.json, {
        files: [
          { path: 'a.txt', is_dir: false, file_size: 3 },
          { path: 'empty.txt', is_dir: false, file_size: 0 },
          { path: 'sub', is_dir: true },
        ],
      });
      const sub = await listProxied(`${rootRel}/sub`);
      assert.deepEqual(sub.json, {
        files: [
          { path: 'b.txt', is_dir: false, file_size: 5 },
          { path: 'deeper', is_dir: true },
          { path: 'empty-folder', is_dir: true },
        ],
      });
      assert.deepEqual((await listProxied(`${rootRel}/sub/deeper/`)).json, { files: [{ path: 'c.bin', is_dir: false, file_size: 4 }] });
      assert.deepEqual((await listProxied(`${rootRel}/sub`, '/ajax-api/2.0')).json, sub.json);
    });

    it('answers {} for a missing directory, an empty one, and a path that is a file', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { rootRel } = await populatedRun();
      for (const dir of [`${rootRel}/nope`, `${rootRel}/sub/empty-folder`, `${rootRel}/a.txt`, 'no/such/experiment']) {
        const res = await listProxied(dir);
        assert.equal(res.status, 200, `${dir}: ${res.text}`);
        assert.deepEqual(res.json, {}, dir);
      }
    });

    it('without a path lists the artifact root (experiment folders)', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { experimentId } = await populatedRun();
      const res = await listProxied(undefined);
      assert.deepEqual(res.json, { files: [{ path: experimentId, is_dir: true }] });
    });
  });

  describe('run listing GET /mlflow/artifacts/list', () => {
    it('gives paths relative to the run root, nested folders, and root_uri', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { runId, experimentId } = await populatedRun();
      const root_uri = `mlflow-artifacts:/${experimentId}/${runId}/artifacts`;
      assert.deepEqual((await runList({ run_id: runId })).json, {
        root_uri,
        files: [
          { path: 'a.txt', is_dir: false, file_size: 3 },
          { path: 'empty.txt', is_dir: false, file_size: 0 },
          { path: 'sub', is_dir: true },
        ],
      });
      const sub = {
        root_uri,
        files: [
          { path: 'sub/b.txt', is_dir: false, file_size: 5 },
          { path: 'sub/deeper', is_dir: true },
          { path: 'sub/empty-folder', is_dir: true },
        ],
      };
      assert.deepEqual((await runList({ run_id: runId, path: 'sub' })).json, sub);
      assert.deepEqual((await runList({ run_id: runId, path: 'sub/' })).json, sub);
      assert.deepEqual((await runList({ run_uuid: runId, path: 'sub' })).json, sub, 'run_uuid alias');
      assert.deepEqual((await runList({ run_id: runId, path: 'sub' }, '/ajax-api/2.0')).json, sub, 'ajax-api');
      assert.deepEqual((await runList({ run_id: runId, path: 'sub/deeper' })).json, {
        root_uri,
        files: [{ path: 'sub/deeper/c.bin', is_dir: false, file_size: 4 }],
      });
    });

    it('answers only root_uri for a run without artifacts and for a missing folder', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { runId, rootRel } = await newRun(t);
      const root_uri = `mlflow-artifacts:/${rootRel}`;
      assert.deepEqual((await runList({ run_id: runId })).json, { root_uri });
      await putOk(t, `${rootRel}/x.txt`, 'x');
      const res = await runList({ run_id: runId, path: 'missing/folder' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { root_uri });
    });

    it('pages with next_page_token until the end, giving the full ordered list once', async () => {
      t = await buildTestApp({ artifacts: backend, artifactListPageSize: 3 });
      const { runId, rootRel } = await newRun(t);
      const names: string[] = [];
      for (let i = 0; i < 11; i++) {
        const name = `f${String(i).padStart(2, '0')}.txt`;
        names.push(name);
        await putOk(t, `${rootRel}/${name}`, 'x'.repeat(i));
      }
      await putOk(t, `${rootRel}/d1/inner.txt`, 'i');
      await putOk(t, `${rootRel}/d0/inner.txt`, 'i');
      const expected = [
        { path: 'd0', is_dir: true },
        { path: 'd1', is_dir: true },
        ...names.map((n, i) => ({ path: n, is_dir: false, file_size: i })),
      ];

      const pages: unknown[][] = [];
      let token: string | undefined;
      do {
        const res = await runList(token ? { run_id: runId, page_token: token } : { run_id: runId });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.root_uri, `mlflow-artifacts:/${rootRel}`);
        pages.push(res.json.files);
        token = res.json.next_page_token;
        assert.ok(pages.length <= 10, 'paging does not end');
      } while (token);
      assert.deepEqual(pages.map((p) => p.length), [3, 3, 3, 3, 1]);
      assert.deepEqual(pages.flat(), expected);

      // Paging inside a sub folder keeps the folder prefix.
      for (let i = 0; i < 4; i++) await putOk(t, `${rootRel}/d0/g${i}.txt`, 'g');
      const first = await runList({ run_id: runId, path: 'd0' });
      assert.deepEqual(first.json.files.map((f: any) => f.path), ['d0/g0.txt', 'd0/g1.txt', 'd0/g2.txt']);
      const second = await runList({ run_id: runId, path: 'd0', page_token: first.json.next_page_token });
      assert.deepEqual(second.json, {
        root_uri: `mlflow-artifacts:/${rootRel}`,
        files: [
          { path: 'd0/g3.txt', is_dir: false, file_size: 1 },
          { path: 'd0/inner.txt', is_dir: false, file_size: 1 },
        ],
      });
    });

    it('refuses an unknown run (404), a missing run_id and a malformed page token (400)', async () => {
      t = await buildTestApp({ artifacts: backend });
      assertError(await runList({ run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await runList({ run_id: 'f'.repeat(32) }, '/ajax-api/2.0'), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await runList({ path: 'x' }), 400, 'INVALID_PARAMETER_VALUE');
      const { runId } = await newRun(t);
      assertError(await runList({ run_id: runId, page_token: '%%%not-base64-json' }), 400, 'INVALID_PARAMETER_VALUE');
    });
  });

  describe('DELETE /mlflow-artifacts/artifacts/<path>', () => {
    it('deletes a file, then a whole directory, and answers {}', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { rootRel, runId } = await populatedRun();
      const del = await inject(t, 'DELETE', artUrl(`${rootRel}/a.txt`));
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.json, {});
      assert.equal(await t.stored.exists(`${rootRel}/a.txt`), false);
      assertError(await inject(t, 'GET', artUrl(`${rootRel}/a.txt`)), 404, 'RESOURCE_DOES_NOT_EXIST');

      const delDir = await inject(t, 'DELETE', artUrl(`${rootRel}/sub`));
      assert.equal(delDir.status, 200, delDir.text);
      assert.deepEqual(delDir.json, {});
      assert.equal(await t.stored.exists(`${rootRel}/sub`), false);
      assert.deepEqual(await t.stored.tree(rootRel), [`empty.txt 0 ${'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}`]);
      assert.deepEqual((await runList({ run_id: runId })).json.files, [{ path: 'empty.txt', is_dir: false, file_size: 0 }]);
    });

    it('answers 404 for a missing path and refuses to delete the artifact root', async () => {
      t = await buildTestApp({ artifacts: backend });
      const { rootRel } = await populatedRun();
      const before = await t.stored.tree();
      assertError(await inject(t, 'DELETE', artUrl(`${rootRel}/nope.txt`)), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await inject(t, 'DELETE', artUrl(`${rootRel}/sub/nope/`)), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await inject(t, 'DELETE', artUrl('no/such/run')), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await inject(t, 'DELETE', '/api/2.0/mlflow-artifacts/artifacts/'), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await t.stored.tree(), before);
      assert.ok(await t.stored.exists(`${rootRel}/a.txt`));
    });
  });
});
}
