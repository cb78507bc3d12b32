import assert from 'node:assert/strict';
import { test } from 'node:test';
import { historyPage, runsPage } from '../../server/import/source.wire.js';

test('get-history pages: int64 as numbers or strings (older servers), doubles also as NaN/Infinity strings; a malformed point is refused', () => {
  assert.deepEqual(historyPage.parse({ metrics: [{ key: 'a', value: 1.5, timestamp: 10, step: 2 }, { key: 'a', value: 'NaN', timestamp: 11 }], next_page_token: 't' }), {
    metrics: [
      { key: 'a', value: 1.5, timestamp: 10, step: 2 },
      { key: 'a', value: NaN, timestamp: 11, step: 0 },
    ],
    next_page_token: 't',
  });
  assert.deepEqual(historyPage.parse({ metrics: [{ key: 'a', value: '-Infinity', timestamp: '1700000000000', step: '3' }] }).metrics, [
    { key: 'a', value: -Infinity, timestamp: 1_700_000_000_000, step: 3 },
  ]);
  assert.deepEqual(historyPage.parse({}), { metrics: [] });
  assert.equal(historyPage.safeParse({ metrics: [{ key: 'a', value: 'high', timestamp: 1 }] }).success, false);
  assert.equal(historyPage.safeParse({ metrics: [{ value: 1, timestamp: 1 }] }).success, false);
});

test('runs/search pages: empty fields omitted, int64 strings, experiment ids as numbers', () => {
  const page = runsPage.parse({ runs: [{ info: { run_id: 'r1', experiment_id: 3, start_time: '5', status: 'KILLED' }, data: {} }] });
  assert.deepEqual(page.runs[0].info, { run_id: 'r1', experiment_id: '3', start_time: 5, status: 'KILLED', artifact_uri: '', lifecycle_stage: 'active' });
  assert.deepEqual(page.runs[0].data, { metrics: [], params: [], tags: [] });
  assert.deepEqual(page.runs[0].inputs, { dataset_inputs: [] });
});
