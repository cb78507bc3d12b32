/**
 * The vocabulary of the filter language: which entity prefixes exist, which attributes each search
 * knows, and which comparators a field accepts. The parser consults it; nothing here parses.
 */
import type { Comparator, Entity } from './ast.js';

export type ValueKind = 'number' | 'string';

export interface AttributeInfo {
  canonical: string;
  kind: ValueKind;
  /** Only nullable columns accept IS NULL / IS NOT NULL (the others would be constant). */
  nullable: boolean;
}

export interface Vocabulary {
  /** What error messages call the searched thing ("run", "experiment"). */
  subject: string;
  prefixes: ReadonlyMap<string, Entity>;
  /** Lower-cased spelling (canonical or alias) -> attribute. */
  filterAttributes: ReadonlyMap<string, AttributeInfo>;
  orderAttributes: ReadonlyMap<string, AttributeInfo>;
  orderEntities: ReadonlySet<Entity>;
  /** Keys valid after `datasets.`. */
  datasetKeys: ReadonlySet<string>;
}

export const NUMERIC_OPS: readonly Comparator[] = ['=', '!=', '<', '<=', '>', '>='];
export const STRING_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];
export const NULL_OPS: readonly Comparator[] = ['IS NULL', 'IS NOT NULL'];

function attrs(list: Array<[string[], string, ValueKind, boolean]>): Map<string, AttributeInfo> {
  const map = new Map<string, AttributeInfo>();
  for (const [spellings, canonical, kind, nullable] of list) {
    for (const s of spellings) map.set(s.toLowerCase(), { canonical, kind, nullable });
  }
  return map;
}

// MLflow's SearchUtils: searchable RunInfo properties plus the aliases "created" and "run name".
// lifecycle_stage is not searchable in MLflow; lablog allows it because the AST names it.
const RUN_ATTRIBUTES = attrs([
  [['run_id'], 'run_id', 'string', false],
  [['run_name', 'run name'], 'run_name', 'string', false],
  [['status'], 'status', 'string', false],
  [['user_id'], 'user_id', 'string', false],
  [['start_time', 'created'], 'start_time', 'number', false],
  [['end_time'], 'end_time', 'number', true],
  [['artifact_uri'], 'artifact_uri', 'string', false],
  [['lifecycle_stage'], 'lifecycle_stage', 'string', false],
]);

const RUN_PREFIXES = new Map<string, Entity>([
  ['metric', 'metric'],
  ['metrics', 'metric'],
  ['param', 'param'],
  ['params', 'param'],
  ['parameter', 'param'],
  ['parameters', 'param'],
  ['tag', 'tag'],
  ['tags', 'tag'],
  ['attribute', 'attribute'],
  ['attributes', 'attribute'],
  ['attr', 'attribute'],
  ['run', 'attribute'],
  ['dataset', 'dataset'],
  ['datasets', 'dataset'],
]);

export const RUN_VOCABULARY: Vocabulary = {
  subject: 'run',
  prefixes: RUN_PREFIXES,
  filterAttributes: RUN_ATTRIBUTES,
  orderAttributes: RUN_ATTRIBUTES,
  orderEntities: new Set<Entity>(['metric', 'param', 'tag', 'attribute']),
  datasetKeys: new Set(['name', 'digest', 'context']),
};

// MLflow's SearchExperimentsUtils: filter on name and the two times, order also by experiment_id.
export const EXPERIMENT_VOCABULARY: Vocabulary = {
  subject: 'experiment',
  prefixes: new Map<string, Entity>([
    ['attribute', 'attribute'],
    ['attributes', 'attribute'],
    ['attr', 'attribute'],
    ['tag', 'tag'],
    ['tags', 'tag'],
  ]),
  filterAttributes: attrs([
    [['name'], 'name', 'string', false],
    [['creation_time'], 'creation_time', 'number', false],
    [['last_update_time'], 'last_update_time', 'number', false],
  ]),
  orderAttributes: attrs([
    [['name'], 'name', 'string', false],
    [['experiment_id'], 'experiment_id', 'number', false],
    [['creation_time'], 'creation_time', 'number', false],
    [['last_update_time'], 'last_update_time', 'number', false],
  ]),
  orderEntities: new Set<Entity>(['attribute']),
  datasetKeys: new Set(),
};

/** Canonical attribute names in the order the vocabulary lists them, for "expected one of" hints. */
export function attributeNames(map: ReadonlyMap<string, AttributeInfo>): string[] {
  return [...new Set([...map.values()].map((a) => a.canonical))];
}

export function prefixNames(vocab: Vocabulary): string[] {
  return [...vocab.prefixes.keys()];
}

/** The comparators a field accepts and the type of value they compare against. */
export function allowedOps(entity: Entity, attr: AttributeInfo | null): { ops: readonly Comparator[]; kind: ValueKind } {
  switch (entity) {
    case 'metric':
      return { ops: [...NUMERIC_OPS, ...NULL_OPS], kind: 'number' };
    case 'param':
    case 'tag':
      return { ops: [...STRING_OPS, ...NULL_OPS], kind: 'string' };
    case 'dataset':
      return { ops: STRING_OPS, kind: 'string' };
    case 'attribute': {
      const a = attr as AttributeInfo;
      const base = a.kind === 'number' ? NUMERIC_OPS : STRING_OPS;
      return { ops: a.nullable ? [...base, ...NULL_OPS] : base, kind: a.kind };
    }
  }
}

/** How error messages name an entity ("param 'lr'", "attribute 'status'"). */
export function describeField(entity: Entity, key: string): string {
  return `${entity} '${key}'`;
}

const MODEL_PREFIXES = new Map<string, Entity>([
  ['attribute', 'attribute'],
  ['attributes', 'attribute'],
  ['attr', 'attribute'],
  ['tag', 'tag'],
  ['tags', 'tag'],
]);

// MLflow's SearchModelUtils: filter on name and tags; order by name or last_updated_timestamp (alias
// timestamp, MLflow's VALID_TIMESTAMP_ORDER_BY_KEYS).
export const REGISTERED_MODEL_VOCABULARY: Vocabulary = {
  subject: 'registered model',
  prefixes: MODEL_PREFIXES,
  filterAttributes: attrs([[['name'], 'name', 'string', false]]),
  orderAttributes: attrs([
    [['name'], 'name', 'string', false],
    [['last_updated_timestamp', 'timestamp'], 'last_updated_timestamp', 'number', false],
  ]),
  orderEntities: new Set<Entity>(['attribute']),
  datasetKeys: new Set(),
};

// MLflow's SearchModelVersionUtils: name, run_id, source_path (lablog also spells it source),
// version_number, and tags; order by name, version_number and the two timestamps.
export const MODEL_VERSION_VOCABULARY: Vocabulary = {
  subject: 'model version',
  prefixes: MODEL_PREFIXES,
  filterAttributes: attrs([
    [['name'], 'name', 'string', false],
    [['run_id'], 'run_id', 'string', false],
    [['source_path', 'source'], 'source_path', 'string', false],
    [['version_number'], 'version_number', 'number', false],
  ]),
  orderAttributes: attrs([
    [['name'], 'name', 'string', false],
    [['version_number'], 'version_number', 'number', false],
    [['creation_timestamp'], 'creation_timestamp', 'number', false],
    [['last_updated_timestamp', 'timestamp'], 'last_updated_timestamp', 'number', false],
  ]),
  orderEntities: new Set<Entity>(['attribute']),
  datasetKeys: new Set(),
};
