/**
 * The search space and trial history as the sweep algorithms see them: plain data, no store, no HTTP.
 * `space.ts` turns the wire form (a map of parameter specs) into a `Space`.
 */

/** A value a parameter takes: numbers for distributions, any JSON scalar for `values` lists. */
export type ParamValue = number | string | boolean;

/** Parameter name -> value, holding only the parameters active under their conditions. */
export type Assignment = Record<string, ParamValue>;

/**
 * Active only when every named parent parameter is active and takes one of the listed values
 * ("momentum only when optimizer = sgd" is `{ optimizer: ['sgd'] }`).
 */
export type Condition = Record<string, ParamValue[]>;

interface ParamBase {
  name: string;
  when: Condition | null;
}

export type Param = ParamBase &
  (
    | { kind: 'categorical'; values: ParamValue[] }
    | { kind: 'constant'; value: ParamValue }
    | { kind: 'uniform'; min: number; max: number }
    | { kind: 'log_uniform'; min: number; max: number }
    | { kind: 'int_uniform'; min: number; max: number }
    | { kind: 'q_uniform'; min: number; max: number; q: number }
    | { kind: 'normal'; mu: number; sigma: number }
  );

/** Parameters in dependency order: every parent comes before the parameters conditioned on it. */
export type Space = Param[];

export type Goal = 'minimize' | 'maximize';

/**
 * One earlier trial as the samplers see it. `value` is the objective's last logged value (null when
 * none was logged); `step` is the step of that value.
 */
export interface TrialRecord {
  params: Assignment;
  state: 'complete' | 'pruned' | 'running' | 'failed';
  value: number | null;
  step: number | null;
}

/** A seeded source of randomness, so a sweep can be reproduced. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Standard normal scaled: mu + sigma * N(0, 1). */
  normal(mu: number, sigma: number): number;
  /** Uniform integer in [min, max], both ends included. */
  int(min: number, max: number): number;
  /** Index drawn with probability proportional to its weight. */
  weighted(weights: ArrayLike<number>): number;
}

/** One parameter as the wire (and the zod schema in api/sweeps.schemas.ts) gives it. */
export interface RawParam {
  values?: ParamValue[];
  value?: ParamValue;
  distribution?: 'uniform' | 'log_uniform' | 'int_uniform' | 'q_uniform' | 'normal';
  min?: number;
  max?: number;
  q?: number;
  mu?: number;
  sigma?: number;
  /** Parent name -> the value (or values) that enable this parameter. */
  when?: Record<string, ParamValue | ParamValue[]>;
}
