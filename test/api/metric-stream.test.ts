import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { metricsJson, PIECE_POINTS, tokenField } from '../../server/api/metric-stream.js';
import { wireDouble } from '../../server/api/wire.js';
import type { Series } from '../../server/store/types.js';
import { prng } from '../support/prng.js';

/** Values, steps and timestamps at the edges of what the writer handles digit by digit. */
function edgeSeries(n: number, seed: number): Series {
  const r = prng(seed);
  const specials = [NaN, Infinity, -Infinity, 0, -0, 5e-324, -1.7976931348623157e308, 1e21, 123456789.5, -1 / 3];
  const ints = [0, -1, 9, 10, 99_999_999, 100_000_000, 1_700_000_000_000, -1_700_000_000_123, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 10 ** 15, 10 ** 15 - 1];
  const s: Series = { steps: new Float64Array(n), timestamps: new Float64Array(n), values: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    s.values[i] = r() < 0.2 ? specials[Math.floor(r() * specials.length)] : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    s.steps[i] = r() < 0.3 ? ints[Math.floor(r() * ints.length)] : Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 53));
    s.timestamps[i] = r() < 0.3 ? ints[Math.floor(r() * ints.length)] : Math.floor(r() * 2 ** Math.floor(r() * 53));
  }
  return s;
}

async function text(pieces: AsyncIterable<Buffer>): Promise<{ text: string; count: number }> {
  const all: Buffer[] = [];
  for await (const p of pieces) all.push(p);
  return { text: Buffer.concat(all).toString('utf8'), count: all.length };
}

const expected = (key: string, s: Series, runId?: string) =>
  Array.from(s.values, (v, i) => ({ key, value: wireDouble(v), timestamp: s.timestamps[i], step: s.steps[i], ...(runId === undefined ? {} : { run_id: runId }) }));

describe('metric JSON pieces', () => {
  test('the text is exactly JSON.stringify of the points, edge values, unicode keys and a page token included', async () => {
    const a = edgeSeries(3 * PIECE_POINTS + 17, 1);
    const b = edgeSeries(500, 2);
    const key = 'val/loss "q" \u00e9\u2028\ud83d\ude00';
    const got = await text(metricsJson([{ key, points: [a, b] }], tokenField(4242)));
    const token = Buffer.from(JSON.stringify({ offset: 4242 })).toString('base64');
    assert.equal(got.text, JSON.stringify({ metrics: [...expected(key, a), ...expected(key, b)], next_page_token: token }));
    // Pieces are cut every PIECE_POINTS points across the series' boundaries, plus the closing one.
    assert.equal(got.count, Math.ceil((a.values.length + b.values.length) / PIECE_POINTS) + 1);
  });

  test('run ids per part (get-history-bulk), and {} or the token alone when there is no point', async () => {
    const a = edgeSeries(10, 3);
    const empty: Series = { steps: new Float64Array(0), timestamps: new Float64Array(0), values: new Float64Array(0) };
    const got = await text(metricsJson([{ key: 'k', runId: 'r1', points: [a] }, { key: 'k', runId: 'r2', points: [empty] }, { key: 'k', runId: 'r3', points: [a] }], ''));
    assert.equal(got.text, JSON.stringify({ metrics: [...expected('k', a, 'r1'), ...expected('k', a, 'r3')] }));
    assert.equal((await text(metricsJson([{ key: 'k', points: [empty] }], ''))).text, '{}');
    assert.equal((await text(metricsJson([], tokenField(7)))).text, `{${tokenField(7)}}`);
  });
});
