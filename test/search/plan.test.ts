import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Comparison } from '../../server/search/ast.js';
import { planRunSearch, type PlanInput } from '../../server/search/plan.js';

const leaf = (entity: Comparison['entity'], key: string, op: Comparison['op'], value: Comparison['value']): Comparison => ({ kind: 'cmp', entity, key, op, value });

function input(over: Partial<PlanInput>): PlanInput {
  return {
    filter: null,
    streamKind: 'key',
    streamRows: 100_000,
    streamHitRate: 1,
    streamWalks: 1,
    need: 101,
    candidates: 100_000,
    totalRuns: 100_000,
    orderJoins: 1,
    leafRows: new Map(),
    ...over,
  };
}

describe('planRunSearch', () => {
  it('streams an unfiltered search whenever an ordered walk exists', () => {
    assert.equal(planRunSearch(input({})).stream, true);
    assert.equal(planRunSearch(input({ streamKind: null })).stream, false);
  });

  it('streams with per-run probes when the filter lets many runs through', () => {
    const m = leaf('metric', 'm0', '<', 0.5);
    const p = leaf('param', 'p1', '=', 'b');
    const plan = planRunSearch(input({ filter: { kind: 'and', items: [m, p] }, leafRows: new Map([[m, 50_000], [p, 20_000]]) }));
    assert.equal(plan.stream, true);
    assert.equal(plan.forms.get(m), 'exists');
    assert.equal(plan.forms.get(p), 'exists');
  });

  it('evaluates a selective filter as a list and sorts the survivors', () => {
    const p = leaf('param', 'p0', '=', 'c42');
    const plan = planRunSearch(input({ filter: p, leafRows: new Map([[p, 200]]) }));
    assert.equal(plan.stream, false);
    assert.equal(plan.forms.get(p), 'list');
  });

  it('probes a broad condition per run once a selective one has narrowed the set', () => {
    const rare = leaf('param', 'p0', '=', 'c42');
    const broad = leaf('metric', 'm0', '<', 0.9);
    const plan = planRunSearch(input({ streamKind: null, filter: { kind: 'and', items: [broad, rare] }, leafRows: new Map([[rare, 200], [broad, 90_000]]) }));
    assert.equal(plan.forms.get(rare), 'list');
    assert.equal(plan.forms.get(broad), 'exists');
  });

  it("reckons an experiment's runs apart when it is a small part of the store", () => {
    // Two conditions each letting a tenth of the runs through, ordered by a metric walked within the
    // experiment: alone in the store its runs lie together and sorting the survivors wins; as a tenth
    // of a ten times larger store each candidate is a random page, and walking its values wins.
    const m = leaf('metric', 'acc', '>', 0.9);
    const p = leaf('param', 'opt', '=', 'adam');
    const filter = { kind: 'and' as const, items: [p, m] };
    const alone = planRunSearch(input({ filter, leafRows: new Map([[m, 10_000], [p, 10_000]]) }));
    const among = planRunSearch(input({ filter, totalRuns: 1_000_000, leafRows: new Map([[m, 100_000], [p, 100_000]]) }));
    assert.equal(alone.stream, false);
    assert.equal(among.stream, true);
  });

  it('sorts a small experiment of a large store rather than walk a store-wide index', () => {
    const small = { streamKind: 'time' as const, streamRows: 1_000_000, streamHitRate: 0.001, candidates: 1000, totalRuns: 1_000_000 };
    assert.equal(planRunSearch(input(small)).stream, false);
    assert.equal(planRunSearch(input({ ...small, streamHitRate: 1, candidates: 1_000_000 })).stream, true);
  });

  it('scans the runs table when nothing narrows the candidates first', () => {
    const plan = planRunSearch(input({ streamKind: null, filter: leaf('attribute', 'status', '=', 'FINISHED') }));
    assert.equal(plan.stream, false);
    assert.equal(plan.tableScan, true);
  });
});
