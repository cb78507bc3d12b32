import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, byKey, manualClock, oneRowOf, rowsOf } from './api.helpers.js';

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  interface ExpRow {
    experiment_id: number;
    name: string;
    artifact_location: string;
    lifecycle_stage: string;
    creation_time: number;
    last_update_time: number;
  }

  const expRow = (t: TestApp, id: string) => oneRowOf<ExpRow>(t, 'SELECT * FROM experiments WHERE experiment_id = ?', Number(id));

  let t: TestApp;
  let clock: ReturnType<typeof manualClock>;

  beforeEach(async () => {
    clock = manualClock();
    t = await buildTestApp({ backend, now: clock.now });
  });
  afterEach(() => t.close());

  async function create(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await t.post('experiments/create', { name, ...extra });
    assert.equal(res.status, 200, res.body);
    return res.json.experiment_id;
  }

  describe('experiments/create', () => {
    it('creates with tags and the default artifact location mlflow-artifacts:/<id>', async () => {
      const res = await t.post('experiments/create', { name: 'vision', tags: [{ key: 'team', value: 'cv' }, { key: 'a.b/c', value: '' }] });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { experiment_id: '1' });
      const got = await t.get('experiments/get', { experiment_id: '1' });
      assert.equal(got.status, 200);
      assert.deepEqual(Object.keys(got.json), ['experiment']);
      const e = got.json.experiment;
      assert.equal(e.experiment_id, '1');
      assert.equal(e.name, 'vision');
      assert.equal(e.artifact_location, 'mlflow-artifacts:/1');
      assert.equal(e.lifecycle_stage, 'active');
      assert.equal(e.creation_time, clock.ms);
      assert.equal(e.last_update_time, clock.ms);
      assert.deepEqual(byKey(e.tags), [{ key: 'a.b/c', value: '' }, { key: 'team', value: 'cv' }]);
      assert.deepEqual(await expRow(t, '1'), {
        experiment_id: 1, name: 'vision', artifact_location: 'mlflow-artifacts:/1', lifecycle_stage: 'active', creation_time: clock.ms, last_update_time: clock.ms,
      });
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM experiment_tags WHERE experiment_id = 1 ORDER BY key'), [{ key: 'a.b/c', value: '' }, { key: 'team', value: 'cv' }]);
    });

    it('keeps an explicit artifact location', async () => {
      const id = await create('s3exp', { artifact_location: 's3://bucket/some/path' });
      assert.equal((await t.get('experiments/get', { experiment_id: id })).json.experiment.artifact_location, 's3://bucket/some/path');
      assert.equal((await expRow(t, id))?.artifact_location, 's3://bucket/some/path');
    });

    it('refuses a duplicate name with 400 RESOURCE_ALREADY_EXISTS', async () => {
      await create('dup');
      assertError(await t.post('experiments/create', { name: 'dup' }), 400, 'RESOURCE_ALREADY_EXISTS', /dup/);
      // A deleted experiment keeps its name (MLflow's unique constraint covers deleted rows too).
      await t.post('experiments/delete', { experiment_id: '1' });
      assertError(await t.post('experiments/create', { name: 'dup' }), 400, 'RESOURCE_ALREADY_EXISTS');
      assert.equal((await oneRowOf<{ n: number }>(t, "SELECT COUNT(*) AS n FROM experiments WHERE name = 'dup'"))?.n, 1);
    });

    it('requires a name', async () => {
      assertError(await t.post('experiments/create', {}), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'name'\. See the API docs/);
      assertError(await t.post('experiments/create', { name: '' }), 400, 'INVALID_PARAMETER_VALUE', /name/);
      assertError(await t.post('experiments/create', { name: 42 }), 400, 'INVALID_PARAMETER_VALUE', /name/);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM experiments'))?.n, 1);
    });

    it('accepts a 500-character name and refuses 501', async () => {
      await create('x'.repeat(500));
      assertError(await t.post('experiments/create', { name: 'y'.repeat(501) }), 400, 'INVALID_PARAMETER_VALUE', /500/);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM experiments'))?.n, 2);
    });

    const FRAGMENT = "'artifact_location' URL can't include fragments or params.";
    for (const [what, location, message] of [
      ['a #fragment', 'http://host#/abc/etc/', FRAGMENT],
      [';params (urlparse params, the path-traversal bypass MLflow blocks)', 'http://host/;..%2F..%2Fetc', FRAGMENT],
      ["a '..' in the query string", 's3://b/p?x=../../etc', undefined],
      ['a runs:/ URI', 'runs:/abc/artifacts', /runs:\//],
    ] as const) {
      it(`refuses an artifact location with ${what}`, async () => {
        assertError(await t.post('experiments/create', { name: 'loc', artifact_location: location }), 400, 'INVALID_PARAMETER_VALUE', message);
        assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM experiments'))?.n, 1);
      });
    }

    it('accepts a harmless query string in the artifact location, as MLflow does', async () => {
      // MLflow rejects only fragments, ;params and '..' inside the query (validate_query_string).
      const id = await create('q', { artifact_location: 's3://bucket/path?versionId=3' });
      assert.equal((await expRow(t, id))?.artifact_location, 's3://bucket/path?versionId=3');
    });
  });

  describe('experiments/get and get-by-name', () => {
    it('has the Default experiment "0" on a fresh database', async () => {
      const res = await t.get('experiments/get', { experiment_id: '0' });
      assert.equal(res.status, 200);
      const e = res.json.experiment;
      assert.equal(e.experiment_id, '0');
      assert.equal(e.name, 'Default');
      assert.equal(e.lifecycle_stage, 'active');
      assert.equal(e.artifact_location, 'mlflow-artifacts:/0');
      assert.equal(typeof e.creation_time, 'number');
      assert.equal(typeof e.last_update_time, 'number');
      assert.equal(e.tags, undefined);
      assert.equal((await expRow(t, '0'))?.name, 'Default');
    });

    it('answers 404 RESOURCE_DOES_NOT_EXIST for unknown and non-numeric ids, 400 for a missing one', async () => {
      assertError(await t.get('experiments/get', { experiment_id: '12345' }), 404, 'RESOURCE_DOES_NOT_EXIST', /12345/);
      assertError(await t.get('experiments/get', { experiment_id: 'abc' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.get('experiments/get'), 400, 'INVALID_PARAMETER_VALUE', /experiment_id/);
    });

    it('finds by name and answers 404 for an unknown name', async () => {
      const id = await create('named', { tags: [{ key: 'k', value: 'v' }] });
      const res = await t.get('experiments/get-by-name', { experiment_name: 'named' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {
        experiment: {
          experiment_id: id, name: 'named', artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: 'active',
          last_update_time: clock.ms, creation_time: clock.ms, tags: [{ key: 'k', value: 'v' }],
        },
      });
      assertError(await t.get('experiments/get-by-name', { experiment_name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', "Could not find experiment with name 'nope'");
    });

    it('serves the same answer under /ajax-api/2.0/mlflow/', async () => {
      const id = await create('ajax');
      const api = await t.get('experiments/get', { experiment_id: id });
      const ajax = await t.get('/ajax-api/2.0/mlflow/experiments/get', { experiment_id: id });
      assert.equal(ajax.status, 200);
      assert.deepEqual(ajax.json, api.json);
      const created = await t.post('/ajax-api/2.0/mlflow/experiments/create', { name: 'via-ajax' });
      assert.equal(created.status, 200);
      assert.equal((await expRow(t, created.json.experiment_id))?.name, 'via-ajax');
    });
  });

  describe('experiments/search', () => {
    async function seed() {
      const ids: Record<string, string> = {};
      for (const [name, team] of [['alpha-1', 'cv'], ['Alpha-2', 'nlp'], ['beta', 'cv'], ['gamma', 'rl']]) {
        clock.advance();
        ids[name] = await create(name, { tags: [{ key: 'team', value: team }] });
      }
      return ids;
    }
    const names = (res: { json: any }) => (res.json.experiments ?? []).map((e: { name: string }) => e.name);

    it('filters by name LIKE (case-sensitive), ILIKE and =, and by tags', async () => {
      await seed();
      const search = (filter: string) => t.post('experiments/search', { filter, order_by: ['name ASC'] });
      assert.deepEqual(names(await search("name LIKE 'alpha%'")), ['alpha-1']);
      assert.deepEqual(names(await search("name ILIKE 'alpha%'")), ['Alpha-2', 'alpha-1']);
      assert.deepEqual(names(await search("name = 'beta'")), ['beta']);
      assert.deepEqual(names(await search("tags.team = 'cv'")), ['alpha-1', 'beta']);
      assert.deepEqual(names(await search("tags.team = 'cv' AND name LIKE '%a'")), ['beta']);
      assertError(await search('name ~ 1'), 400, 'INVALID_PARAMETER_VALUE');
    });

    it('orders by name ASC and pages through everything with max_results and page_token', async () => {
      await seed();
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const res = await t.post('experiments/search', { max_results: 2, order_by: ['name ASC'], page_token: token });
        assert.equal(res.status, 200);
        assert.ok(res.json.experiments.length <= 2);
        seen.push(...names(res));
        token = res.json.next_page_token;
        pages++;
      } while (token);
      assert.equal(pages, 3);
      assert.deepEqual(seen, ['Alpha-2', 'Default', 'alpha-1', 'beta', 'gamma']);
      const desc = await t.post('experiments/search', { order_by: ['name DESC'] });
      assert.deepEqual(names(desc), ['gamma', 'beta', 'alpha-1', 'Default', 'Alpha-2']);
      assert.equal(desc.json.next_page_token, undefined);
      for (const max_results of [0, 50_001]) assertError(await t.post('experiments/search', { max_results }), 400, 'INVALID_PARAMETER_VALUE', /max_results/);
      assertError(await t.post('experiments/search', { page_token: 'not a token' }), 400, 'INVALID_PARAMETER_VALUE');
    });

    it('answers the same over GET with query parameters', async () => {
      await seed();
      const res = await t.get('experiments/search', { filter: "name ILIKE 'ALPHA%'", order_by: 'name ASC', max_results: '1' });
      assert.equal(res.status, 200);
      assert.deepEqual(names(res), ['Alpha-2']);
      const next = await t.get('experiments/search', { filter: "name ILIKE 'ALPHA%'", order_by: 'name ASC', max_results: '1', page_token: res.json.next_page_token });
      assert.deepEqual(names(next), ['alpha-1']);
      assert.equal(next.json.next_page_token, undefined);
      assert.deepEqual(names(await t.get('experiments/search', { order_by: ['name DESC'], filter: "tags.team = 'cv'" })), ['beta', 'alpha-1']);
    });

    it('honours view_type by name and by number', async () => {
      const ids = await seed();
      assert.equal((await t.post('experiments/delete', { experiment_id: ids.beta })).status, 200);
      const view = async (v: unknown, get = false) =>
        names(get ? await t.get('experiments/search', { view_type: String(v), order_by: 'name ASC' }) : await t.post('experiments/search', { view_type: v, order_by: ['name ASC'] }));
      const active = ['Alpha-2', 'Default', 'alpha-1', 'gamma'];
      const all = ['Alpha-2', 'Default', 'alpha-1', 'beta', 'gamma'];
      assert.deepEqual(names(await t.post('experiments/search', { order_by: ['name ASC'] })), active);
      for (const [v, want] of [['ACTIVE_ONLY', active], ['DELETED_ONLY', ['beta']], ['ALL', all], [1, active], [2, ['beta']], [3, all]] as const) {
        assert.deepEqual(await view(v), want, `POST view_type ${v}`);
        assert.deepEqual(await view(v, true), want, `GET view_type ${v}`);
      }
      assertError(await t.post('experiments/search', { view_type: 'SOMETIMES' }), 400, 'INVALID_PARAMETER_VALUE');
    });

    it('answers {} when nothing matches (empty repeated fields are omitted)', async () => {
      const res = await t.post('experiments/search', { view_type: 'DELETED_ONLY' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
    });

    it('still serves the legacy GET experiments/list', async () => {
      const ids = await seed();
      assert.equal((await t.post('experiments/delete', { experiment_id: ids.beta })).status, 200);
      const res = await t.get('experiments/list');
      assert.equal(res.status, 200);
      assert.deepEqual(names(res).sort(), ['Alpha-2', 'Default', 'alpha-1', 'gamma'], 'active only by default');
      const ajax = await t.get('/ajax-api/2.0/mlflow/experiments/list', { view_type: 'ALL' });
      assert.equal(ajax.status, 200);
      assert.deepEqual(names(ajax).sort(), ['Alpha-2', 'Default', 'alpha-1', 'beta', 'gamma'], 'ALL holds the deleted one');
      assert.deepEqual(names(await t.get('experiments/list', { view_type: 'DELETED_ONLY' })), ['beta']);
    });
  });

  describe('experiments/update', () => {
    it('renames and moves last_update_time', async () => {
      const id = await create('old');
      const created = clock.ms;
      clock.advance(5000);
      const res = await t.post('experiments/update', { experiment_id: id, new_name: 'new' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      const e = (await t.get('experiments/get', { experiment_id: id })).json.experiment;
      assert.equal(e.name, 'new');
      assert.equal(e.creation_time, created);
      assert.equal(e.last_update_time, clock.ms);
      const row = await expRow(t, id);
      assert.equal(row?.name, 'new');
      assert.equal(row?.creation_time, created);
      assert.equal(row?.last_update_time, clock.ms);
      assertError(await t.get('experiments/get-by-name', { experiment_name: 'old' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('refuses an existing name, a missing new_name and an unknown experiment', async () => {
      const a = await create('a');
      await create('b');
      assertError(await t.post('experiments/update', { experiment_id: a, new_name: 'b' }), 400, 'RESOURCE_ALREADY_EXISTS');
      assert.equal((await expRow(t, a))?.name, 'a');
      assertError(await t.post('experiments/update', { experiment_id: a }), 400, 'INVALID_PARAMETER_VALUE', /new_name/);
      assertError(await t.post('experiments/update', { experiment_id: '999', new_name: 'c' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('refuses to rename a deleted experiment (400, where MLflow answers 500 INVALID_STATE)', async () => {
      const id = await create('gone');
      await t.post('experiments/delete', { experiment_id: id });
      // MLflow answers INVALID_STATE (HTTP 500); lablog keeps 5xx for its own faults and says 400 (README).
      assertError(await t.post('experiments/update', { experiment_id: id, new_name: 'back' }), 400, 'INVALID_PARAMETER_VALUE', 'Cannot rename a non-active experiment.');
      assert.equal((await expRow(t, id))?.name, 'gone');
    });
  });

  describe('experiments/delete and restore', () => {
    interface RunRow {
      lifecycle_stage: string;
      deleted_time: number | null;
    }
    const runRow = (id: string) => oneRowOf<RunRow>(t, 'SELECT lifecycle_stage, deleted_time FROM runs WHERE run_uuid = ?', id);
    const newRun = async (experimentId: string) => {
      const res = await t.post('runs/create', { experiment_id: experimentId });
      assert.equal(res.status, 200, res.body);
      return res.json.run.info.run_id as string;
    };
    const searchRuns = async (experimentId: string, view: string) =>
      ((await t.post('runs/search', { experiment_ids: [experimentId], run_view_type: view })).json.runs ?? []).map((r: any) => r.info.run_id).sort();

    it('soft-deletes the experiment and its runs; restore brings back exactly the runs deleted with it', async () => {
      const id = await create('lifecycle');
      const kept = await newRun(id);
      const alone = await newRun(id);
      const aloneDeletedAt = clock.advance();
      assert.equal((await t.post('runs/delete', { run_id: alone })).status, 200);

      const deletedAt = clock.advance();
      const del = await t.post('experiments/delete', { experiment_id: id });
      assert.equal(del.status, 200);
      assert.deepEqual(del.json, {});
      const e = (await t.get('experiments/get', { experiment_id: id })).json.experiment;
      assert.equal(e.lifecycle_stage, 'deleted');
      assert.equal(e.last_update_time, deletedAt);
      assert.equal((await expRow(t, id))?.lifecycle_stage, 'deleted');
      assert.equal((await t.get('experiments/get-by-name', { experiment_name: 'lifecycle' })).json.experiment.lifecycle_stage, 'deleted');
      assert.deepEqual(await runRow(kept), { lifecycle_stage: 'deleted', deleted_time: deletedAt });
      assert.deepEqual(await runRow(alone), { lifecycle_stage: 'deleted', deleted_time: aloneDeletedAt });
      assert.equal((await t.get('runs/get', { run_id: kept })).json.run.info.lifecycle_stage, 'deleted');
      assert.deepEqual(await searchRuns(id, 'ACTIVE_ONLY'), []);
      assert.deepEqual(await searchRuns(id, 'DELETED_ONLY'), [kept, alone].sort());

      const restoredAt = clock.advance();
      const res = await t.post('experiments/restore', { experiment_id: id });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      const back = (await t.get('experiments/get', { experiment_id: id })).json.experiment;
      assert.equal(back.lifecycle_stage, 'active');
      assert.equal(back.last_update_time, restoredAt);
      assert.deepEqual(await runRow(kept), { lifecycle_stage: 'active', deleted_time: null });
      assert.deepEqual(await runRow(alone), { lifecycle_stage: 'deleted', deleted_time: aloneDeletedAt });
      assert.deepEqual(await searchRuns(id, 'ACTIVE_ONLY'), [kept]);
      assert.equal((await t.get('runs/get', { run_id: kept })).json.run.info.lifecycle_stage, 'active');
    });

    it('keeps a run deleted on its own in the same millisecond as the experiment deleted after restore', async () => {
      const id = await create('same-ms');
      const kept = await newRun(id);
      const alone = await newRun(id);
      // The clock does not move: both deletions happen "at once", as in a script calling them back to back.
      await t.post('runs/delete', { run_id: alone });
      await t.post('experiments/delete', { experiment_id: id });
      await t.post('experiments/restore', { experiment_id: id });
      assert.equal((await runRow(kept))?.lifecycle_stage, 'active');
      assert.equal((await runRow(alone))?.lifecycle_stage, 'deleted', 'the individually deleted run came back with the experiment');
    });

    it('answers 404 for unknown ids and 400 for a missing one', async () => {
      assertError(await t.post('experiments/delete', { experiment_id: '404' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('experiments/restore', { experiment_id: '404' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('experiments/delete', {}), 400, 'INVALID_PARAMETER_VALUE', /experiment_id/);
    });

    // SqlAlchemyStore looks the experiment up with ACTIVE_ONLY to delete it and DELETED_ONLY to restore it.
    it('answers 404 when deleting an already deleted experiment (MLflow semantics)', async () => {
      const id = await create('twice');
      assert.equal((await t.post('experiments/delete', { experiment_id: id })).status, 200);
      const before = await expRow(t, id);
      clock.advance();
      assertError(await t.post('experiments/delete', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
      assert.deepEqual(await expRow(t, id), before);
    });

    it('answers 404 when restoring an active experiment (MLflow semantics)', async () => {
      const id = await create('active');
      assertError(await t.post('experiments/restore', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
      assert.equal((await expRow(t, id))?.lifecycle_stage, 'active');
    });
  });

  describe('experiment tags', () => {
    const tagsOf = async (id: string) => (await t.get('experiments/get', { experiment_id: id })).json.experiment.tags;

    it('sets, overwrites and deletes a tag', async () => {
      const id = await create('tagged');
      assert.deepEqual((await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'owner', value: 'ann' })).json, {});
      assert.deepEqual(await tagsOf(id), [{ key: 'owner', value: 'ann' }]);
      assert.equal((await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'owner', value: 'bob' })).status, 200);
      await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'note', value: 'x'.repeat(5000) });
      assert.deepEqual(byKey(await tagsOf(id)), [{ key: 'note', value: 'x'.repeat(5000) }, { key: 'owner', value: 'bob' }]);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM experiment_tags WHERE experiment_id = ? AND key = ?', Number(id), 'owner'), [{ key: 'owner', value: 'bob' }]);

      const del = await t.post('experiments/delete-experiment-tag', { experiment_id: id, key: 'owner' });
      assert.equal(del.status, 200);
      assert.deepEqual(del.json, {});
      assert.deepEqual(await tagsOf(id), [{ key: 'note', value: 'x'.repeat(5000) }]);
      assert.deepEqual(await rowsOf(t, 'SELECT key FROM experiment_tags WHERE experiment_id = ?', Number(id)), [{ key: 'note' }]);
    });

    it('refuses bad keys, oversized values, unknown experiments and unknown tags', async () => {
      const id = await create('strict');
      assertError(await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'bad$key', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE');
      assertError(await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'x'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /5000/);
      assertError(await t.post('experiments/set-experiment-tag', { experiment_id: id, value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', /key/);
      assertError(await t.post('experiments/set-experiment-tag', { experiment_id: '777', key: 'k', value: 'v' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('experiments/delete-experiment-tag', { experiment_id: id, key: 'never-set' }), 404, 'RESOURCE_DOES_NOT_EXIST', /never-set/);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM experiment_tags'))?.n, 0);
    });

    it("refuses to tag a deleted experiment ('active' state required)", async () => {
      const id = await create('deleted-tags', { tags: [{ key: 'k', value: 'v' }] });
      await t.post('experiments/delete', { experiment_id: id });
      assertError(await t.post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'w' }), 400, 'INVALID_PARAMETER_VALUE', /active/);
      assertError(await t.post('experiments/delete-experiment-tag', { experiment_id: id, key: 'k' }), 400, 'INVALID_PARAMETER_VALUE', /active/);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM experiment_tags WHERE experiment_id = ?', Number(id)), [{ key: 'k', value: 'v' }]);
    });
  });
});
