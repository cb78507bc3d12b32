/** The parsed filter language, shared by the parser (search/) and the SQL compiler (store/). */
export type Entity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

export type Comparator =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'LIKE'
  | 'ILIKE'
  | 'IN'
  | 'NOT IN'
  | 'IS NULL'
  | 'IS NOT NULL';

export interface Comparison {
  kind: 'cmp';
  entity: Entity;
  /** For attributes the canonical name (run_id, run_name, status, user_id, start_time, end_time, artifact_uri, lifecycle_stage; experiments: name, creation_time, last_update_time). */
  key: string;
  op: Comparator;
  /** number for numeric comparisons, string for string ones, string[] for IN lists, null for IS [NOT] NULL. */
  value: number | string | string[] | null;
}

export interface Junction {
  kind: 'and' | 'or';
  items: Expr[];
}

export type Expr = Comparison | Junction;

export interface OrderKey {
  entity: Entity;
  key: string;
  ascending: boolean;
}
