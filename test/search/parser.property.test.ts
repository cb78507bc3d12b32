/**
 * Property tests: any AST printed with random aliases, quoting and keyword case parses back to
 * itself; any input either parses or fails with a positioned INVALID_PARAMETER_VALUE.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Comparison, Expr } from '../../server/search/ast.js';
import { LablogError } from '../../server/errors.js';
import { parseRunFilter } from '../../server/search/parser.js';

const PREFIXES: Record<string, string[]> = {
  metric: ['metrics', 'metric'],
  param: ['params', 'param', 'parameter', 'parameters'],
  tag: ['tags', 'tag'],
  attribute: ['attributes', 'attribute', 'attr', 'run', ''],
  dataset: ['datasets', 'dataset'],
};
const STRING_ATTRS: Record<string, string[]> = {
  run_id: ['run_id'],
  run_name: ['run_name', '`run name`', '"Run Name"'],
  status: ['status'],
  user_id: ['user_id'],
  artifact_uri: ['artifact_uri'],
};
const NUMERIC_ATTRS: Record<string, string[]> = { start_time: ['start_time', 'created', 'Created'], end_time: ['end_time'] };

const word = /^[\p{L}\p{N}_]+(\.[\p{L}\p{N}_]+)*$/u;
const quoteKey = (key: string, q: '`' | '"') => q + key.replaceAll(q, q + q) + q;
const quoteValue = (v: string, q: "'" | '"') => q + v.replaceAll(q, q + q) + q;
const pick = <T>(xs: T[], n: number): T => xs[Math.abs(n) % xs.length];
const kw = (s: string, n: number) => (n % 3 === 0 ? s.toLowerCase() : n % 3 === 1 ? s : s[0] + s.slice(1).toLowerCase());

const number = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).map((x) => (x === 0 ? 0 : x));
const text = fc.string({ maxLength: 8 });
const key = fc.string({ minLength: 1, maxLength: 8 });

const comparison: fc.Arbitrary<Comparison> = fc.oneof(
  fc.record({
    entity: fc.constant('metric' as const),
    key,
    op: fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const),
    value: number,
  }),
  fc.record({
    entity: fc.constantFrom('param' as const, 'tag' as const),
    key,
    op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const),
    value: text,
  }),
  fc.record({ entity: fc.constantFrom('param' as const, 'tag' as const), key, op: fc.constantFrom('IN', 'NOT IN' as const), value: fc.array(text, { minLength: 1, maxLength: 3 }) }),
  fc.record({ entity: fc.constantFrom('metric' as const, 'param' as const, 'tag' as const), key, op: fc.constantFrom('IS NULL', 'IS NOT NULL' as const), value: fc.constant(null) }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constantFrom(...Object.keys(STRING_ATTRS)), op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const), value: text }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constantFrom(...Object.keys(NUMERIC_ATTRS)), op: fc.constantFrom('=', '<', '>=' as const), value: number }),
  fc.record({ entity: fc.constant('dataset' as const), key: fc.constantFrom('name', 'digest', 'context'), op: fc.constantFrom('=', 'LIKE', 'NOT IN' as const), value: text }).map((c) =>
    c.op === 'NOT IN' ? { ...c, value: [c.value] } : c,
  ),
).map((c) => ({ kind: 'cmp' as const, ...c }) as Comparison);

const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), items: fc.array(tie('e'), { minLength: 2, maxLength: 3 }) }),
  ),
})).e;

/** The parser flattens nested junctions of the same kind. */
function normalize(e: Expr): Expr {
  if (e.kind === 'cmp') return e;
  const items = e.items.map(normalize).flatMap((x) => (x.kind === e.kind ? (x as { items: Expr[] }).items : [x]));
  return { kind: e.kind, items };
}

/** Prints an expression; `seed` drives every stylistic choice so that shrinking stays stable. */
function print(e: Expr, seed: number): string {
  if (e.kind !== 'cmp') {
    const glue = ` ${kw(e.kind.toUpperCase(), seed)} `;
    return e.items.map((x, i) => `(${print(x, (seed * 31 + i + 1) % 1_000_003)})`).join(glue);
  }
  let field: string;
  if (e.entity === 'attribute') {
    const spellings = STRING_ATTRS[e.key] ?? NUMERIC_ATTRS[e.key];
    const name = pick(spellings, seed);
    const prefix = pick(PREFIXES.attribute, seed >> 2);
    field = prefix && !name.startsWith('"') ? `${prefix}.${name}` : name;
  } else {
    const quoted = !word.test(e.key) || seed % 2 === 0;
    field = `${pick(PREFIXES[e.entity], seed >> 1)}.${quoted ? quoteKey(e.key, seed % 4 < 2 ? '`' : '"') : e.key}`;
  }
  const q = seed % 5 < 3 ? "'" : '"';
  const op = e.op.split(' ').map((w) => kw(w, seed >> 3)).join(' ');
  if (e.value === null) return `${field} ${op}`;
  if (Array.isArray(e.value)) return `${field} ${op} (${e.value.map((v) => quoteValue(v, q)).join(', ')})`;
  if (typeof e.value === 'number') return `${field} ${op} ${String(e.value)}`;
  return `${field} ${op} ${quoteValue(e.value, q)}`;
}

describe('parser properties', () => {
  it('print -> parse is the identity (modulo flattening)', () => {
    fc.assert(
      fc.property(expr, fc.nat(), (e, seed) => {
        const printed = print(e, seed);
        assert.deepEqual(parseRunFilter(printed), normalize(e), printed);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary input parses or fails with a positioned INVALID_PARAMETER_VALUE', () => {
    const alphabet = fc.constantFrom(...'metrics.params.tags. ()\'"`,=!<>-.5e AND OR IN NOT IS NULL LIKE x'.split(''));
    const inputs = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: alphabet, maxLength: 40 }));
    fc.assert(
      fc.property(inputs, (input) => {
        try {
          parseRunFilter(input);
        } catch (e) {
          assert.ok(e instanceof LablogError, String(e));
          assert.equal(e.errorCode, 'INVALID_PARAMETER_VALUE');
          const m = /at position (\d+)/.exec(e.message);
          assert.ok(m, e.message);
          assert.ok(Number(m[1]) <= input.length, e.message);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
