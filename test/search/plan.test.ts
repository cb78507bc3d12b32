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

  it('scans the runs table when nothing narrows the candidates first', () => {
    const plan = planRunSearch(input({ streamKind: null, filter: leaf('attribute', 'status', '=', 'FINISHED') }));
    assert.equal(plan.stream, false);
    assert.equal(plan.tableScan, true);
  });
});
