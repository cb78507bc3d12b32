// A long run read back: its full history is streamed in pieces (never built whole in memory), and
// its sampled curve still accounts for every point.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PIECE_POINTS } from '../../server/api/metric-stream.js';
import { buildTestApp, listen, seedRun, type TestApp } from '../helper.js';
import { chunkedGet, seedLongHistory } from './reliability.helpers.js';

const N = 1_500_000;
const MiB = 2 ** 20;

describe('a 1.5M-point history', () => {
  let t: TestApp;
  let port = 0;
  let runId = '';

  before(async () => {
    t = await buildTestApp();
    port = await listen(t);
    runId = (await seedRun(t, { experiment: 'long-run' })).runId;
    await seedLongHistory(t, runId, 'loss', N);
  });
  after(() => t.close());

  test('is written in pieces of at most 1 MiB, one after another, and reads back exactly', async () => {
    const sizes: number[] = [];
    let steps = 0;
    let carry = '';
    let head = '';
    let tail = '';
    const { status } = await chunkedGet(port, `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`, (chunk) => {
      sizes.push(chunk.length);
      const text = carry + chunk.toString('latin1');
      if (head.length < 200) head = (head + text).slice(0, 200);
      steps += text.split('"step":').length - 1;
      carry = text.slice(-7);
      tail = (tail + chunk.toString('latin1')).slice(-200);
    });
    assert.equal(status, 200);
    assert.equal(steps, N);
    assert.ok(head.startsWith('{"metrics":[{"key":"loss","value":0,"timestamp":1700000000000,"step":0},{"key":"loss","value":0.5,'), head);
    assert.ok(tail.endsWith(`{"key":"loss","value":${(N - 1) / 2},"timestamp":${1_700_000_000_000 + N - 1},"step":${N - 1}}]}`), tail);
    // The server's writes, as the chunked framing shows them: many bounded pieces, never the whole.
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(sizes.length >= N / PIECE_POINTS, `${sizes.length} writes for ${N} points`);
    assert.ok(Math.max(...sizes) <= MiB, `a write of ${Math.max(...sizes)} bytes (the whole answer is ${total})`);
  });

  test('its sampled curve covers every point, with the true minimum and maximum', async () => {
    const res = await t.get('/api/2.0/lablog/metrics/sampled', { run_ids: runId, keys: 'loss', buckets: '1000' });
    assert.equal(res.status, 200);
    const s = res.json.series[0];
    assert.equal(s.count.reduce((a: number, b: number) => a + b, 0), N);
    assert.ok(s.count.length <= 1000 && s.count.length >= 990, `${s.count.length} buckets`);
    assert.equal(Math.min(...s.min), 0);
    assert.equal(Math.max(...s.max), (N - 1) / 2);
    assert.equal(s.last_x.at(-1), N - 1);
  });
});
