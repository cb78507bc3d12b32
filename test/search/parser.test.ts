import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Comparison, Expr } from '../../server/search/ast.js';
import { LablogError } from '../../server/errors.js';
import {
  parseExperimentFilter,
  parseExperimentOrderBy,
  parseRunFilter,
  parseRunOrderBy,
} from '../../server/search/parser.js';

const cmp = (entity: Comparison['entity'], key: string, op: Comparison['op'], value: Comparison['value']): Comparison => ({
  kind: 'cmp',
  entity,
  key,
  op,
  value,
});

describe('parseRunFilter: empty input', () => {
  it('returns null for undefined, null, empty and blank', () => {
    for (const text of [undefined, null, '', '   ', '\n\t']) assert.equal(parseRunFilter(text), null);
  });
});

describe('parseRunFilter: entity prefixes and aliases', () => {
  const cases: Array<[string, Comparison]> = [
    ['metrics.acc > 1', cmp('metric', 'acc', '>', 1)],
    ['metric.acc > 1', cmp('metric', 'acc', '>', 1)],
    ["params.lr = 'x'", cmp('param', 'lr', '=', 'x')],
    ["param.lr = 'x'", cmp('param', 'lr', '=', 'x')],
    ["parameter.lr = 'x'", cmp('param', 'lr', '=', 'x')],
    ["parameters.lr = 'x'", cmp('param', 'lr', '=', 'x')],
    ["tags.t = 'x'", cmp('tag', 't', '=', 'x')],
    ["tag.t = 'x'", cmp('tag', 't', '=', 'x')],
    ["attributes.status = 'x'", cmp('attribute', 'status', '=', 'x')],
    ["attribute.status = 'x'", cmp('attribute', 'status', '=', 'x')],
    ["attr.status = 'x'", cmp('attribute', 'status', '=', 'x')],
    ["run.status = 'x'", cmp('attribute', 'status', '=', 'x')],
    ["datasets.name = 'x'", cmp('dataset', 'name', '=', 'x')],
    ["dataset.digest = 'x'", cmp('dataset', 'digest', '=', 'x')],
    ["datasets.context = 'x'", cmp('dataset', 'context', '=', 'x')],
    ['METRICS.acc > 1', cmp('metric', 'acc', '>', 1)],
    ['`metrics`.`acc` > 1', cmp('metric', 'acc', '>', 1)],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunFilter(text), expected));
});

describe('parseRunFilter: attributes and their aliases', () => {
  const cases: Array<[string, Comparison]> = [
    ["status = 'FINISHED'", cmp('attribute', 'status', '=', 'FINISHED')],
    ["run_id = 'abc'", cmp('attribute', 'run_id', '=', 'abc')],
    ["run_name = 'x'", cmp('attribute', 'run_name', '=', 'x')],
    ['"run name" = \'x\'', cmp('attribute', 'run_name', '=', 'x')],
    ["`Run name` = 'x'", cmp('attribute', 'run_name', '=', 'x')],
    ["attributes.`Run Name` = 'x'", cmp('attribute', 'run_name', '=', 'x')],
    ["user_id = 'u'", cmp('attribute', 'user_id', '=', 'u')],
    ['start_time > 5', cmp('attribute', 'start_time', '>', 5)],
    ['created > 5', cmp('attribute', 'start_time', '>', 5)],
    ['Created > 5', cmp('attribute', 'start_time', '>', 5)],
    ['attributes.created <= 5', cmp('attribute', 'start_time', '<=', 5)],
    ['end_time < 5', cmp('attribute', 'end_time', '<', 5)],
    ["artifact_uri LIKE 's3://%'", cmp('attribute', 'artifact_uri', 'LIKE', 's3://%')],
    ["lifecycle_stage = 'active'", cmp('attribute', 'lifecycle_stage', '=', 'active')],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunFilter(text), expected));
});

describe('parseRunFilter: keys and quoting', () => {
  const cases: Array<[string, Comparison]> = [
    ['metrics.`val loss` < 1', cmp('metric', 'val loss', '<', 1)],
    ['metrics."val loss" < 1', cmp('metric', 'val loss', '<', 1)],
    ["params.\"learning-rate\" = '0.1'", cmp('param', 'learning-rate', '=', '0.1')],
    ["params.`learning-rate` = '0.1'", cmp('param', 'learning-rate', '=', '0.1')],
    ['metrics.a.b.c = 1', cmp('metric', 'a.b.c', '=', 1)],
    ['metrics.`a.b c` = 1', cmp('metric', 'a.b c', '=', 1)],
    ['metrics.loss_2 = 1', cmp('metric', 'loss_2', '=', 1)],
    ['metrics.2nd = 1', cmp('metric', '2nd', '=', 1)],
    ['metrics.données = 1', cmp('metric', 'données', '=', 1)],
    ["tags.`mlflow.runName` = 'x'", cmp('tag', 'mlflow.runName', '=', 'x')],
    ["tags.mlflow.runName = 'x'", cmp('tag', 'mlflow.runName', '=', 'x')],
    ['params.`it``s` = \'x\'', cmp('param', 'it`s', '=', 'x')],
    ["params.p = 'single'", cmp('param', 'p', '=', 'single')],
    ['params.p = "double"', cmp('param', 'p', '=', 'double')],
    ["params.p = 'it''s'", cmp('param', 'p', '=', "it's")],
    ["params.p = 'a\\'", cmp('param', 'p', '=', 'a\\')],
    ["params.p = '\\\\server\\share'", cmp('param', 'p', '=', '\\\\server\\share')],
    ['params.p = "say ""hi"""', cmp('param', 'p', '=', 'say "hi"')],
    ["params.p = 'C:\\path'", cmp('param', 'p', '=', 'C:\\path')],
    ["params.p = ''", cmp('param', 'p', '=', '')],
    ["params.p = 'a AND b OR (c)'", cmp('param', 'p', '=', 'a AND b OR (c)')],
    ["params.and = 'x'", cmp('param', 'and', '=', 'x')],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunFilter(text), expected));
});

describe('parseRunFilter: comparators and values', () => {
  const cases: Array<[string, Comparison]> = [
    ['metrics.m = 1', cmp('metric', 'm', '=', 1)],
    ['metrics.m != 1', cmp('metric', 'm', '!=', 1)],
    ['metrics.m < 1', cmp('metric', 'm', '<', 1)],
    ['metrics.m <= 1', cmp('metric', 'm', '<=', 1)],
    ['metrics.m > 1', cmp('metric', 'm', '>', 1)],
    ['metrics.m >= 1', cmp('metric', 'm', '>=', 1)],
    ['metrics.m>=-1', cmp('metric', 'm', '>=', -1)],
    ['metrics.m = -0.5', cmp('metric', 'm', '=', -0.5)],
    ['metrics.m = .5', cmp('metric', 'm', '=', 0.5)],
    ['metrics.m = 5.', cmp('metric', 'm', '=', 5)],
    ['metrics.m = 1e3', cmp('metric', 'm', '=', 1000)],
    ['metrics.m = 2.5E-3', cmp('metric', 'm', '=', 0.0025)],
    ['metrics.m = -1e+2', cmp('metric', 'm', '=', -100)],
    ['metrics.m IS NULL', cmp('metric', 'm', 'IS NULL', null)],
    ['metrics.m is not null', cmp('metric', 'm', 'IS NOT NULL', null)],
    ["params.p LIKE 'a%'", cmp('param', 'p', 'LIKE', 'a%')],
    ["params.p like 'a%'", cmp('param', 'p', 'LIKE', 'a%')],
    ["params.p ILIKE 'a%'", cmp('param', 'p', 'ILIKE', 'a%')],
    ["params.p iLike 'a%'", cmp('param', 'p', 'ILIKE', 'a%')],
    ["params.p IN ('a', 'b')", cmp('param', 'p', 'IN', ['a', 'b'])],
    ["params.p in ('a')", cmp('param', 'p', 'IN', ['a'])],
    ["params.p NOT IN ('a', \"b\")", cmp('param', 'p', 'NOT IN', ['a', 'b'])],
    ["tags.t not in('a','b')", cmp('tag', 't', 'NOT IN', ['a', 'b'])],
    ['tags.t Is Null', cmp('tag', 't', 'IS NULL', null)],
    ["status IN ('A', 'B')", cmp('attribute', 'status', 'IN', ['A', 'B'])],
    ["run_name NOT IN ('x')", cmp('attribute', 'run_name', 'NOT IN', ['x'])],
    ["user_id ILIKE 'b%'", cmp('attribute', 'user_id', 'ILIKE', 'b%')],
    ['end_time IS NULL', cmp('attribute', 'end_time', 'IS NULL', null)],
    ['end_time IS NOT NULL', cmp('attribute', 'end_time', 'IS NOT NULL', null)],
    ["datasets.name IN ('a', 'b')", cmp('dataset', 'name', 'IN', ['a', 'b'])],
    ["datasets.context ILIKE 'TR%'", cmp('dataset', 'context', 'ILIKE', 'TR%')],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunFilter(text), expected));
});

describe('parseRunFilter: AND / OR / parentheses', () => {
  const a = cmp('metric', 'a', '>', 1);
  const b = cmp('metric', 'b', '>', 2);
  const c = cmp('metric', 'c', '>', 3);
  const d = cmp('metric', 'd', '>', 4);
  const cases: Array<[string, Expr]> = [
    ['metrics.a > 1 AND metrics.b > 2', { kind: 'and', items: [a, b] }],
    ['metrics.a > 1 and metrics.b > 2 AnD metrics.c > 3', { kind: 'and', items: [a, b, c] }],
    ['metrics.a > 1 OR metrics.b > 2', { kind: 'or', items: [a, b] }],
    // AND binds tighter than OR
    ['metrics.a > 1 OR metrics.b > 2 AND metrics.c > 3', { kind: 'or', items: [a, { kind: 'and', items: [b, c] }] }],
    ['metrics.a > 1 AND metrics.b > 2 or metrics.c > 3', { kind: 'or', items: [{ kind: 'and', items: [a, b] }, c] }],
    ['(metrics.a > 1 OR metrics.b > 2) AND metrics.c > 3', { kind: 'and', items: [{ kind: 'or', items: [a, b] }, c] }],
    ['((metrics.a > 1))', a],
    ['(((metrics.a > 1) OR ((metrics.b > 2))) AND (metrics.c > 3 OR (metrics.d > 4)))', {
      kind: 'and',
      items: [{ kind: 'or', items: [a, b] }, { kind: 'or', items: [c, d] }],
    }],
    // Same-kind nesting is flattened.
    ['metrics.a > 1 AND (metrics.b > 2 AND (metrics.c > 3))', { kind: 'and', items: [a, b, c] }],
    ['(metrics.a > 1 OR metrics.b > 2) OR (metrics.c > 3 OR metrics.d > 4)', { kind: 'or', items: [a, b, c, d] }],
    ['metrics.a>1 AND(metrics.b>2)', { kind: 'and', items: [a, b] }],
    ['  metrics.a   >   1  ', a],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunFilter(text), expected));
});

describe('parseRunOrderBy', () => {
  const cases: Array<[string, { entity: string; key: string; ascending: boolean }]> = [
    ['metrics.rmse DESC', { entity: 'metric', key: 'rmse', ascending: false }],
    ['metrics.rmse desc', { entity: 'metric', key: 'rmse', ascending: false }],
    ['metrics.rmse', { entity: 'metric', key: 'rmse', ascending: true }],
    ['params.lr ASC', { entity: 'param', key: 'lr', ascending: true }],
    ['tags.`model type` Asc', { entity: 'tag', key: 'model type', ascending: true }],
    ['metrics.`val loss` desc', { entity: 'metric', key: 'val loss', ascending: false }],
    ['metrics."val loss" DESC', { entity: 'metric', key: 'val loss', ascending: false }],
    ['attributes.start_time ASC', { entity: 'attribute', key: 'start_time', ascending: true }],
    ['start_time', { entity: 'attribute', key: 'start_time', ascending: true }],
    ['created DESC', { entity: 'attribute', key: 'start_time', ascending: false }],
    ['run_name', { entity: 'attribute', key: 'run_name', ascending: true }],
    ['attr.end_time DESC', { entity: 'attribute', key: 'end_time', ascending: false }],
    ['status', { entity: 'attribute', key: 'status', ascending: true }],
    ['run_id', { entity: 'attribute', key: 'run_id', ascending: true }],
  ];
  for (const [text, expected] of cases) it(text, () => assert.deepEqual(parseRunOrderBy([text]), [expected]));

  it('keeps the order of several keys; undefined and [] give []', () => {
    assert.deepEqual(parseRunOrderBy(['metrics.a DESC', 'params.b']), [
      { entity: 'metric', key: 'a', ascending: false },
      { entity: 'param', key: 'b', ascending: true },
    ]);
    assert.deepEqual(parseRunOrderBy(undefined), []);
    assert.deepEqual(parseRunOrderBy([]), []);
  });
});

describe('experiments', () => {
  it('filters on name, times and tags', () => {
    assert.deepEqual(parseExperimentFilter("name = 'a'"), cmp('attribute', 'name', '=', 'a'));
    assert.deepEqual(parseExperimentFilter("attributes.name LIKE 'a%'"), cmp('attribute', 'name', 'LIKE', 'a%'));
    assert.deepEqual(parseExperimentFilter("attribute.name ILIKE 'a%'"), cmp('attribute', 'name', 'ILIKE', 'a%'));
    assert.deepEqual(parseExperimentFilter('creation_time > 5'), cmp('attribute', 'creation_time', '>', 5));
    assert.deepEqual(parseExperimentFilter('last_update_time <= 5'), cmp('attribute', 'last_update_time', '<=', 5));
    assert.deepEqual(parseExperimentFilter("tags.team != 'x'"), cmp('tag', 'team', '!=', 'x'));
    assert.deepEqual(parseExperimentFilter("tag.`a b` = 'x'"), cmp('tag', 'a b', '=', 'x'));
    assert.equal(parseExperimentFilter(''), null);
  });

  it('orders by name, experiment_id and the times', () => {
    assert.deepEqual(parseExperimentOrderBy(['name', 'experiment_id DESC', 'creation_time asc', 'attributes.last_update_time DESC']), [
      { entity: 'attribute', key: 'name', ascending: true },
      { entity: 'attribute', key: 'experiment_id', ascending: false },
      { entity: 'attribute', key: 'creation_time', ascending: true },
      { entity: 'attribute', key: 'last_update_time', ascending: false },
    ]);
  });
});

/** Asserts an INVALID_PARAMETER_VALUE whose message contains every fragment. */
function rejects(parse: () => unknown, ...fragments: string[]): void {
  assert.throws(parse, (e: unknown) => {
    assert.ok(e instanceof LablogError, `not a LablogError: ${String(e)}`);
    assert.equal(e.errorCode, 'INVALID_PARAMETER_VALUE');
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('errors name the position and what was expected', () => {
  const cases: Array<[string, string[]]> = [
    ['metrics.acc >', ["Invalid filter 'metrics.acc >'", 'expected a number at position 13 (end of input)']],
    ['metrics.acc', ['expected a comparator', 'at position 11 (end of input)']],
    ["params.lr > '1'", ["invalid comparator '>' for param 'lr' at position 10", 'expected one of =, !=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL']],
    ["metrics.acc LIKE '1'", ["invalid comparator 'LIKE' for metric 'acc' at position 12", 'expected one of =, !=, <, <=, >, >=, IS NULL, IS NOT NULL']],
    ["status > 'a'", ["invalid comparator '>' for attribute 'status' at position 7"]],
    ['status IS NULL', ["invalid comparator 'IS NULL' for attribute 'status' at position 7"]],
    ["start_time LIKE '1%'", ["invalid comparator 'LIKE' for attribute 'start_time' at position 11"]],
    ["datasets.name IS NULL", ["invalid comparator 'IS NULL' for dataset 'name' at position 14"]],
    ["metrics.acc > '0.5'", ["expected a number but found the string '0.5' at position 14", 'compares with unquoted numbers']],
    ['params.lr = 0.1', ["expected a quoted string but found '0.1' at position 12", "quote the value"]],
    ['params.lr = abc', ["expected a quoted string but found 'abc' at position 12"]],
    ['params.lr = `abc`', ['expected a quoted string but found \'`abc`\' at position 12', "quote the value, e.g. 'abc'"]],
    ["params.lr = 'abc", ['unterminated quote', 'at position 12']],
    ['params.`lr = 1', ['unterminated backtick', 'at position 7']],
    ['params."lr = 1', ['unterminated double quote', 'at position 7']],
    ["(metrics.a > 1", ["expected AND, OR or ')' at position 14 (end of input); the '(' at position 0 is not closed"]],
    ["((metrics.a > 1) OR metrics.b > 2", ["expected AND, OR or ')' at position 33 (end of input); the '(' at position 0 is not closed"]],
    ["metrics.a > 1)", ["expected AND, OR or end of input but found ')' at position 13", "no matching '('"]],
    ["metrics.a > 1 metrics.b > 2", ["expected AND, OR or end of input but found 'metrics.b' at position 14"]],
    ["metrics.a > 1 AND", ['expected a condition', 'at position 17 (end of input)']],
    ["AND metrics.a > 1", ["expected a condition such as metrics.acc > 0.9 but found 'AND' at position 0"]],
    ["metrics.a > 1 OR OR metrics.b > 2", ["found 'OR' at position 17"]],
    ["()", ["expected a condition such as metrics.acc > 0.9 but found ')' at position 1"]],
    ["params.p IN ()", ['expected at least one quoted string in the list at position 13']],
    ["params.p IN ('a',)", ["expected a quoted string but found ')' at position 17"]],
    ["params.p IN ('a' 'b')", ["expected ',' or ')' but found the string 'b' at position 17; the list opened at position 12 is not closed"]],
    ["params.p IN 'a'", ["expected '(' starting a list such as ('a', 'b') but found the string 'a' at position 12"]],
    ["params.p IN (1, 2)", ["expected a quoted string but found '1' at position 13"]],
    ["params.p IN ('a'", ["expected ',' or ')' at position 16 (end of input); the list opened at position 12 is not closed"]],
    ["params.p NOT LIKE 'a'", ["expected IN after 'NOT' but found 'LIKE' at position 13"]],
    ['metrics.m IS 1', ["expected NULL or NOT NULL after 'IS' but found '1' at position 13"]],
    ['metrics.m IS NOT 1', ["expected NULL after 'IS NOT' but found '1' at position 17"]],
    ["foo.bar = 1", ["unknown entity type 'foo' at position 0", 'expected one of metric, metrics']],
    ["foo = 'x'", ["unknown searchable run attribute 'foo' at position 0", 'expected one of run_id, run_name']],
    ["attributes.name = 'x'", ["unknown searchable run attribute 'name' at position 11"]],
    ["datasets.size = 'x'", ["unknown dataset key 'size' at position 9", 'expected one of name, digest, context']],
    ['metrics. = 1', ["expected a key after 'metrics.' at position 8"]],
    ["metrics.val-loss > 1", ["expected a comparator", "but found '-' at position 11", 'quote keys containing special characters']],
    ['metrics.a == 1', ["invalid comparator '==' at position 10"]],
    ['metrics.a <> 1', ["invalid comparator '<>' at position 10"]],
    ['metrics.a > 1 ; DROP TABLE runs', ["found ';' at position 14"]],
    ['metrics.a.`b` > 1', ['a quoted key must be the whole key at position 10']],
    ['metrics.`` > 1', ['expected a non-empty metric key at position 8']],
    ['metrics.a > 1abc', ["expected a number but found '1abc' at position 12"]],
    ["params.p = 'it\\'s'", ["unterminated quote (') starting at position 17"]],
  ];
  for (const [text, fragments] of cases) it(text, () => rejects(() => parseRunFilter(text), ...fragments));

  it('bounds nesting, condition count and order_by length', () => {
    const deep = `${'('.repeat(101)}metrics.a > 1${')'.repeat(101)}`;
    rejects(() => parseRunFilter(deep), 'parentheses nested more than 100 deep at position 100');
    assert.ok(parseRunFilter(`${'('.repeat(100)}metrics.a > 1${')'.repeat(100)}`));
    rejects(() => parseRunFilter(`${'('.repeat(20000)}metrics.a > 1${')'.repeat(20000)}`), 'nested more than 100 deep');
    const conds = (n: number) => Array.from({ length: n }, () => 'metrics.a > 1').join(' OR ');
    assert.equal((parseRunFilter(conds(500)) as { items: unknown[] }).items.length, 500);
    rejects(() => parseRunFilter(conds(501)), 'more than 500 conditions at position 8500', 'use IN lists');
    assert.equal(parseRunOrderBy(Array(20).fill('metrics.a')).length, 20);
    rejects(() => parseRunOrderBy(Array(21).fill('metrics.a')), 'Invalid order_by: 21 clauses given; at most 20 are supported');
    rejects(() => parseExperimentOrderBy(Array(3000).fill('name')), 'at most 20');
  });

  it('experiment filters reject run-only entities and attributes', () => {
    rejects(() => parseExperimentFilter('metrics.a > 1'), "unknown entity type 'metrics' at position 0", 'expected one of attribute');
    rejects(() => parseExperimentFilter("status = 'x'"), "unknown searchable experiment attribute 'status' at position 0");
    rejects(() => parseExperimentFilter("creation_time = 'x'"), 'expected a number but found', 'at position 16');
    rejects(() => parseExperimentFilter("name > 'x'"), "invalid comparator '>' for attribute 'name' at position 5");
  });

  it('order_by errors', () => {
    rejects(() => parseRunOrderBy(['metrics.a sideways']), "Invalid order_by clause 'metrics.a sideways'", "expected ASC, DESC or end of input but found 'sideways' at position 10");
    rejects(() => parseRunOrderBy(['metrics.a DESC extra']), "found 'extra' at position 15");
    rejects(() => parseRunOrderBy(['foo']), "unknown orderable run attribute 'foo' at position 0");
    rejects(() => parseRunOrderBy(['datasets.name']), 'cannot order runs by dataset keys at position 0');
    rejects(() => parseRunOrderBy(['']), 'expected a key such as metrics.rmse at position 0 (end of input)');
    rejects(() => parseRunOrderBy(['metrics.`a DESC']), 'unterminated backtick', 'at position 8');
    rejects(() => parseExperimentOrderBy(['tags.team']), 'cannot order experiments by tag keys at position 0');
    rejects(() => parseExperimentOrderBy(['status']), "unknown orderable experiment attribute 'status' at position 0");
  });
});
