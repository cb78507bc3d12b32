/**
 * The golden run-search tables over the fixture (fixture.ts): filter or order -> the exact ordered
 * run names. golden.test.ts checks them on SQLite under every plan, golden-postgres.test.ts on PostgreSQL.
 */
import type { ViewType } from '../../server/store/types.js';
import { runUuid } from './fixture.js';

/** One run search of the golden tests, defaults filled in by each test. */
export interface Search {
  filter?: string;
  orderBy?: string[];
  experimentIds?: string[];
  viewType?: ViewType;
  offset?: number;
  limit?: number;
}

// Active runs of experiments 1-3 in the default order: start_time DESC, then run_uuid.
export const ALL = ['vit', 'lstm', 'gpt-small', 'gpt-mini', 'resnet-101', 'resnet-50', 'bert-large', 'xgb', 'bert-base', 'cnn small', 'CNN-Large', 'mlp'];

export const FILTERS: Array<[string, string[]]> = [
  ['', ALL],
  // metrics: every comparator, NaN never matches a comparison, missing keys never match
  ['metrics.acc > 0.9', ['vit', 'bert-large', 'bert-base', 'mlp']],
  ['metric.acc >= 0.91', ['vit', 'bert-large', 'bert-base', 'mlp']],
  ['metrics.acc < 0.7', ['resnet-50', 'cnn small']],
  ['metrics.acc <= 0.7', ['resnet-50', 'cnn small', 'CNN-Large']],
  ['metrics.acc = 0.91', ['bert-base', 'mlp']],
  ['metrics.acc != 0.91', ['vit', 'gpt-mini', 'resnet-101', 'resnet-50', 'bert-large', 'xgb', 'cnn small', 'CNN-Large']],
  ['metrics.loss < 0', ['gpt-mini']],
  ['metrics.loss > -2', ['lstm', 'gpt-mini', 'resnet-101', 'xgb', 'bert-base', 'CNN-Large', 'mlp']],
  ['metrics.loss IS NULL', ['vit', 'gpt-small', 'resnet-50', 'cnn small']],
  ['metrics.loss is not null', ['lstm', 'gpt-mini', 'resnet-101', 'bert-large', 'xgb', 'bert-base', 'CNN-Large', 'mlp']],
  ['metrics.`val loss` < 0.31', ['bert-large', 'bert-base']],
  ['metrics."val loss" >= 0.3', ['gpt-mini', 'bert-base']],
  ['metrics.a.b = 1', ['resnet-101']],
  ['metrics.acc > 1e-1 AND metrics.acc <= 5E-1', ['resnet-50']],
  ['metrics.acc > .9 and metrics.loss < 0.3', ['bert-base', 'mlp']],
  // params
  ["params.lr = '0.01'", ['vit', 'resnet-101', 'bert-base', 'mlp']],
  ["param.lr != '0.01'", ['gpt-small', 'gpt-mini', 'resnet-50', 'bert-large', 'xgb', 'CNN-Large']],
  ["parameter.optimizer LIKE 'adam%'", ['gpt-mini', 'bert-base', 'cnn small', 'mlp']],
  ["parameters.optimizer ILIKE 'adam%'", ['gpt-mini', 'bert-large', 'bert-base', 'cnn small', 'mlp']],
  ["params.optimizer = 'sgd'", ['resnet-50']],
  ["params.optimizer ilike 'SGD'", ['resnet-101', 'resnet-50']],
  ['params."learning-rate" = \'0.01\'', ['bert-base']],
  ['params.`learning-rate` IS NOT NULL', ['gpt-mini', 'bert-base']],
  ['params.batch IS NULL', ['vit', 'lstm', 'gpt-small', 'gpt-mini', 'resnet-50', 'xgb', 'CNN-Large', 'mlp']],
  ["params.batch IN ('32', '64')", ['resnet-101', 'bert-large', 'bert-base']],
  ["params.batch NOT IN ('32')", ['bert-large', 'cnn small']],
  ["params.lr LIKE '0.0_'", ['vit', 'resnet-101', 'bert-base', 'mlp']],
  ["params.lr LIKE '%e-%'", ['CNN-Large']],
  ['params.lr = "0.001"', ['gpt-small', 'bert-large']],
  ["params.comment = 'it''s \"quoted\"'", ['lstm']],
  ['params.comment = "it\'s ""quoted"""', ['lstm']],
  // tags, LIKE case sensitivity and wildcard escaping
  ["tags.env = 'prod'", ['vit', 'gpt-mini', 'resnet-50', 'bert-base']],
  ["tag.env ILIKE 'PROD'", ['vit', 'gpt-mini', 'resnet-50', 'bert-base', 'CNN-Large']],
  ["tags.env LIKE 'P%'", ['CNN-Large']],
  ["tags.env != 'prod'", ['lstm', 'resnet-101', 'bert-large', 'CNN-Large', 'mlp']],
  ['tags.env IS NULL', ['gpt-small', 'xgb', 'cnn small']],
  ["tags.`model type` = 'transformer'", ['bert-large']],
  ["tags.\"model type\" ILIKE 'transformer'", ['bert-large', 'bert-base']],
  ["tags.note LIKE '%[v2]%'", ['xgb']],
  ["tags.note LIKE '%*'", ['xgb']],
  ["tags.note LIKE '100_%'", ['resnet-101']],
  ["tags.note LIKE '%?%'", []],
  ["tags.note = '50% off [v2]*'", ['xgb']],
  ["tags.env IN ('dev', 'staging')", ['lstm', 'resnet-101', 'bert-large', 'mlp']],
  ["tags.env NOT IN ('dev', 'staging')", ['vit', 'gpt-mini', 'resnet-50', 'bert-base', 'CNN-Large']],
  // attributes, bare and prefixed, with aliases
  ["attributes.status = 'FINISHED'", ['vit', 'lstm', 'gpt-mini', 'bert-large', 'xgb', 'bert-base', 'CNN-Large']],
  ["status != 'FINISHED'", ['gpt-small', 'resnet-101', 'resnet-50', 'cnn small', 'mlp']],
  ["attr.status IN ('FAILED', 'KILLED')", ['gpt-small', 'resnet-50', 'mlp']],
  ["run.status NOT IN ('FINISHED', 'FAILED')", ['gpt-small', 'resnet-101', 'cnn small']],
  ["status LIKE 'fin%'", []],
  ["status ILIKE 'fin%'", ['vit', 'lstm', 'gpt-mini', 'bert-large', 'xgb', 'bert-base', 'CNN-Large']],
  ["run_name = 'cnn small'", ['cnn small']],
  ['"run name" LIKE \'bert%\'', ['bert-large', 'bert-base']],
  ["attributes.run_name ILIKE 'cnn%'", ['cnn small', 'CNN-Large']],
  ["`Run Name` IN ('vit', 'mlp')", ['vit', 'mlp']],
  ["attributes.user_id = 'bob'", ['gpt-mini', 'bert-large', 'cnn small', 'mlp']],
  ["user_id ILIKE 'BOB'", ['gpt-mini', 'bert-large', 'cnn small', 'CNN-Large', 'mlp']],
  ['attributes.start_time >= 1400', ['vit', 'lstm', 'gpt-small', 'gpt-mini']],
  ['created < 1000', ['cnn small', 'CNN-Large', 'mlp']],
  ['attr.end_time IS NULL', ['resnet-101', 'cnn small']],
  ['end_time IS NOT NULL', ['vit', 'lstm', 'gpt-small', 'gpt-mini', 'resnet-50', 'bert-large', 'xgb', 'bert-base', 'CNN-Large', 'mlp']],
  ['end_time > 2000', ['vit', 'bert-large']],
  ['end_time != 2000', ['vit', 'lstm', 'gpt-small', 'gpt-mini', 'resnet-50', 'bert-large', 'xgb', 'CNN-Large', 'mlp']],
  [`attributes.run_id = '${runUuid('resnet-50')}'`, ['resnet-50']],
  [`run_id IN ('${runUuid('bert-base')}', '${runUuid('xgb')}', 'nope')`, ['xgb', 'bert-base']],
  ["attributes.artifact_uri LIKE 's3://%'", ['resnet-101', 'resnet-50', 'bert-large', 'xgb', 'bert-base', 'cnn small', 'CNN-Large']],
  // datasets: a run matches when any of its inputs does
  ["datasets.name = 'squad'", ['bert-large', 'bert-base', 'cnn small']],
  ["dataset.name LIKE 'squad%'", ['bert-large', 'bert-base', 'cnn small']],
  ["datasets.digest IN ('d2', 'd3')", ['gpt-mini', 'bert-large']],
  ["datasets.context = 'train'", ['gpt-mini', 'bert-large', 'bert-base']],
  ["datasets.context != 'train'", ['vit', 'bert-large']],
  ["datasets.name != 'squad'", ['vit', 'gpt-mini', 'bert-large']],
  ["datasets.context ILIKE 'TR%'", ['gpt-mini', 'bert-large', 'bert-base']],
  // OR, precedence, parentheses, keyword case
  ["metrics.acc > 0.94 OR params.optimizer = 'sgd'", ['resnet-50', 'bert-large']],
  ["tags.env = 'prod' AND metrics.acc > 0.9 OR params.lr = '0.3'", ['vit', 'xgb', 'bert-base']],
  ["tags.env = 'prod' AND (metrics.acc > 0.9 OR params.lr = '0.3')", ['vit', 'bert-base']],
  ["((status = 'FAILED') OR (status = 'KILLED' AND (metrics.acc IS NOT NULL)))", ['gpt-small', 'resnet-50', 'mlp']],
  ["(params.lr = '0.01' OR params.lr = '0.001') AND (tags.env = 'dev' OR tags.env IS NULL)", ['gpt-small', 'bert-large', 'mlp']],
  ['metrics.acc IS NULL OR metrics.acc < 0.6', ['lstm', 'resnet-50']],
  ["metrics.acc > 0.9 And params.lr = '0.01' oR tags.env Is Not Null and params.batch iN ('16')", ['vit', 'bert-base', 'mlp']],
  ["params.lr = 'x'' OR 1=1 --'", []],
  ["params.`a'; DROP TABLE runs; --` = 'x'", []],
];

export const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

// Long lists and junctions take other SQL shapes (one JSON parameter, a balanced tree).
FILTERS.push(
  [`run_name IN (${many(40, (i) => `'x${i}'`).join(', ')}, 'vit', 'mlp')`, ['vit', 'mlp']],
  [`params.lr NOT IN (${many(40, (i) => `'y${i}'`).join(', ')}, '0.01')`, ['gpt-small', 'gpt-mini', 'resnet-50', 'bert-large', 'xgb', 'CNN-Large']],
  [[...many(300, (i) => `run_name = 'z${i}'`), "run_name = 'lstm'"].join(' OR '), ['lstm']],
  [many(300, () => 'metrics.acc > 0.9').join(' AND '), ['vit', 'bert-large', 'bert-base', 'mlp']],
  [`${'('.repeat(90)}tags.env = 'dev'${')'.repeat(90)}`, ['lstm', 'bert-large', 'mlp']],
);

export const ORDERS: Array<[string[], string[], string?]> = [
  [['metrics.acc DESC'], ['bert-large', 'vit', 'bert-base', 'mlp', 'gpt-mini', 'xgb', 'resnet-101', 'CNN-Large', 'cnn small', 'resnet-50', 'gpt-small', 'lstm']],
  [['metrics.acc ASC'], ['resnet-50', 'cnn small', 'CNN-Large', 'resnet-101', 'xgb', 'gpt-mini', 'bert-base', 'mlp', 'vit', 'bert-large', 'gpt-small', 'lstm']],
  [['metric.acc'], ['resnet-50', 'cnn small', 'CNN-Large', 'resnet-101', 'xgb', 'gpt-mini', 'bert-base', 'mlp', 'vit', 'bert-large', 'gpt-small', 'lstm']],
  [['metrics.loss desc'], ['lstm', 'resnet-101', 'bert-base', 'mlp', 'CNN-Large', 'xgb', 'gpt-mini', 'bert-large', 'vit', 'gpt-small', 'resnet-50', 'cnn small']],
  [['params.lr ASC'], ['gpt-mini', 'gpt-small', 'bert-large', 'vit', 'resnet-101', 'bert-base', 'mlp', 'resnet-50', 'xgb', 'CNN-Large', 'lstm', 'cnn small']],
  [['params.lr DESC', 'metrics.acc DESC'], ['CNN-Large', 'xgb', 'resnet-50', 'vit', 'bert-base', 'mlp', 'resnet-101', 'bert-large', 'gpt-small', 'gpt-mini', 'cnn small', 'lstm']],
  [['tags.env ASC'], ['CNN-Large', 'lstm', 'bert-large', 'mlp', 'vit', 'gpt-mini', 'resnet-50', 'bert-base', 'resnet-101', 'gpt-small', 'xgb', 'cnn small']],
  [['start_time ASC'], ['mlp', 'CNN-Large', 'cnn small', 'xgb', 'bert-base', 'bert-large', 'resnet-50', 'resnet-101', 'gpt-small', 'gpt-mini', 'lstm', 'vit']],
  [['created DESC'], ALL],
  [['attributes.start_time'], ['mlp', 'CNN-Large', 'cnn small', 'xgb', 'bert-base', 'bert-large', 'resnet-50', 'resnet-101', 'gpt-small', 'gpt-mini', 'lstm', 'vit']],
  [['attributes.run_name'], ['CNN-Large', 'bert-base', 'bert-large', 'cnn small', 'gpt-mini', 'gpt-small', 'lstm', 'mlp', 'resnet-101', 'resnet-50', 'vit', 'xgb']],
  [['end_time DESC'], ['vit', 'bert-large', 'bert-base', 'lstm', 'gpt-mini', 'gpt-small', 'resnet-50', 'xgb', 'CNN-Large', 'mlp', 'resnet-101', 'cnn small']],
  [['end_time ASC'], ['mlp', 'CNN-Large', 'xgb', 'resnet-50', 'gpt-small', 'gpt-mini', 'lstm', 'bert-base', 'vit', 'bert-large', 'resnet-101', 'cnn small']],
  [['status', 'run_name DESC'], ['resnet-50', 'mlp', 'xgb', 'vit', 'lstm', 'gpt-mini', 'bert-large', 'bert-base', 'CNN-Large', 'gpt-small', 'resnet-101', 'cnn small']],
  [['metrics.`val loss` DESC'], ['gpt-mini', 'bert-base', 'bert-large', 'vit', 'lstm', 'gpt-small', 'resnet-101', 'resnet-50', 'xgb', 'cnn small', 'CNN-Large', 'mlp']],
  [['metrics.acc ASC'], ['resnet-101', 'bert-base', 'mlp', 'vit'], "params.lr = '0.01'"],
  [['params.optimizer DESC'], ['resnet-50', 'gpt-mini', 'bert-base', 'cnn small', 'mlp', 'resnet-101', 'bert-large'], 'params.optimizer IS NOT NULL'],
];

// Fixture times: Default 100, alpha 300, beta 200, gamma 300 (tie with alpha), delta 400 (deleted).
export const EXPERIMENT_CASES: Array<[{ filter?: string; orderBy?: string[]; viewType?: ViewType }, string[]]> = [
  // MLflow's default: creation_time DESC, then experiment_id ASC.
  [{}, ['alpha', 'gamma', 'beta', 'Default']],
  // With an explicit order the tie-break is experiment_id DESC (MLflow's SqlAlchemyStore).
  [{ orderBy: ['creation_time DESC'] }, ['gamma', 'alpha', 'beta', 'Default']],
  [{ orderBy: ['creation_time'] }, ['Default', 'beta', 'gamma', 'alpha']],
  [{ orderBy: ['name'] }, ['Default', 'alpha', 'beta', 'gamma']],
  [{ orderBy: ['attributes.name DESC'] }, ['gamma', 'beta', 'alpha', 'Default']],
  [{ orderBy: ['last_update_time DESC'] }, ['alpha', 'beta', 'gamma', 'Default']],
  [{ orderBy: ['experiment_id DESC'] }, ['gamma', 'beta', 'alpha', 'Default']],
  [{ orderBy: ['creation_time DESC', 'experiment_id ASC'] }, ['alpha', 'gamma', 'beta', 'Default']],
  [{ filter: "name = 'alpha'" }, ['alpha']],
  [{ filter: "attributes.name LIKE '%a'" }, ['alpha', 'gamma', 'beta']],
  [{ filter: "name LIKE 'def%'" }, []],
  [{ filter: "name ILIKE 'DEF%'" }, ['Default']],
  [{ filter: "name != 'alpha'" }, ['gamma', 'beta', 'Default']],
  [{ filter: "name IN ('beta', 'gamma')" }, ['gamma', 'beta']],
  [{ filter: "tags.team = 'vision'" }, ['alpha']],
  [{ filter: "tag.team ILIKE 'vision'" }, ['alpha', 'gamma']],
  [{ filter: "tags.team != 'nlp'" }, ['alpha', 'gamma']],
  [{ filter: 'tags.owner IS NULL' }, ['gamma', 'beta', 'Default']],
  [{ filter: 'tags.owner IS NOT NULL' }, ['alpha']],
  [{ filter: 'creation_time >= 200 AND last_update_time < 850' }, ['gamma', 'beta']],
  [{ filter: 'attributes.creation_time = 300' }, ['alpha', 'gamma']],
  [{ filter: "name != 'alpha' OR tags.owner = 'Ann'" }, ['alpha', 'gamma', 'beta', 'Default']],
  [{ filter: "(tags.team = 'nlp' OR tags.team = 'Vision') AND creation_time > 150" }, ['gamma', 'beta']],
  [{ filter: "tags.team ILIKE 'vision'", viewType: 'ALL' }, ['delta', 'alpha', 'gamma']],
  [{ viewType: 'DELETED_ONLY' }, ['delta']],
  [{ viewType: 'ALL', orderBy: ['name'] }, ['Default', 'alpha', 'beta', 'delta', 'gamma']],
];
