import { invalid } from '../errors.js';
import { LIMITS, validateKey } from '../tracking/validation.js';
import { quantized, quantizedCount } from './random.js';
import type { Condition, Param, ParamValue, RawParam, Space } from './types.js';

/**
 * The wire form of a search space (docs/sweeps.md, "The sweep config") checked and turned into a
 * `Space`. Every rule is enforced here, once, so the samplers and the grid can trust their input.
 */

const MAX_PARAMETERS = LIMITS.batchParams;
const MAX_VALUES = 1000;

const DISTRIBUTIONS = ['uniform', 'log_uniform', 'int_uniform', 'q_uniform', 'normal'] as const;
type Distribution = (typeof DISTRIBUTIONS)[number];

/** The fields each kind may carry; any other known field is a mistake worth reporting (a typo or a mix-up). */
const FIELDS: Record<'values' | 'value' | Distribution, readonly string[]> = {
  values: ['values'],
  value: ['value'],
  uniform: ['distribution', 'min', 'max'],
  log_uniform: ['distribution', 'min', 'max'],
  int_uniform: ['distribution', 'min', 'max'],
  q_uniform: ['distribution', 'min', 'max', 'q'],
  normal: ['distribution', 'mu', 'sigma'],
};
const KNOWN_FIELDS = ['values', 'value', 'distribution', 'min', 'max', 'q', 'mu', 'sigma', 'when'] as const;

export function normalizeSpace(raw: Record<string, RawParam>): Space {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid('parameters must be an object mapping parameter names to their specs');
  }
  const entries = Object.entries(raw);
  if (entries.length === 0) throw invalid('parameters needs at least 1 parameter');
  if (entries.length > MAX_PARAMETERS) {
    throw invalid(`parameters may hold at most ${MAX_PARAMETERS} parameters (got ${entries.length})`);
  }
  const space: Space = [];
  for (const [name, spec] of entries) {
    checkName(name);
    space.push(normalizeParam(name, spec, space));
  }
  return space;
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > LIMITS.keyLength) {
    throw invalid(`Parameter names must be 1 to ${LIMITS.keyLength} characters (got ${name.length}: '${name.slice(0, 50)}')`);
  }
  // Assigned as an object key, it would set the prototype instead of holding a value.
  if (name === '__proto__') throw invalid("Parameter '__proto__': this name is reserved");
  // Trials log their parameters as MLflow params, so a name MLflow would refuse must fail here, not at `next`.
  validateKey('param', name);
}

function normalizeParam(name: string, spec: RawParam, earlier: Space): Param {
  const fail = (message: string) => invalid(`Parameter '${name}': ${message}`);
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw fail('the spec must be an object such as {"values": [...]}, {"value": x} or {"distribution": ...}');
  }
  const given = KNOWN_FIELDS.filter((f) => spec[f] !== undefined);
  const kinds = given.filter((f) => f === 'values' || f === 'value' || f === 'distribution');
  if (kinds.length !== 1) {
    const got = kinds.length === 0 ? 'none' : kinds.join(' and ');
    throw fail(`give exactly one of values, value or distribution (got ${got})`);
  }
  const kind = kindOf(spec, fail);
  for (const field of given) {
    if (field !== 'when' && !FIELDS[kind].includes(field)) {
      const what = kind === 'values' || kind === 'value' ? `a '${kind}' parameter` : `the ${kind} distribution`;
      throw fail(`'${field}' does not belong to ${what} (it takes ${FIELDS[kind].join(', ')})`);
    }
  }
  const when = spec.when === undefined ? null : normalizeWhen(spec.when, name, earlier, fail);
  return { name, when, ...body(kind, spec, fail) } as Param;
}

function kindOf(spec: RawParam, fail: (m: string) => Error): 'values' | 'value' | Distribution {
  if (spec.values !== undefined) return 'values';
  if (spec.value !== undefined) return 'value';
  const d = spec.distribution as unknown;
  if (typeof d === 'string' && (DISTRIBUTIONS as readonly string[]).includes(d)) return d as Distribution;
  throw fail(`unknown distribution ${JSON.stringify(d)} (expected one of ${DISTRIBUTIONS.join(', ')})`);
}

type ParamBody = { [K in Param['kind']]: Omit<Extract<Param, { kind: K }>, 'name' | 'when'> }[Param['kind']];

function body(kind: 'values' | 'value' | Distribution, spec: RawParam, fail: (m: string) => Error): ParamBody {
  const { min, max, q, mu, sigma } = spec as Record<string, unknown>;
  switch (kind) {
    case 'values':
      return { kind: 'categorical', values: checkValues(spec.values, fail) };
    case 'value':
      return { kind: 'constant', value: checkScalar(spec.value, 'value', fail) };
    case 'uniform':
      if (!finite(min) || !finite(max) || !(min < max)) throw fail('uniform needs finite min < max');
      return { kind, min, max };
    case 'log_uniform':
      if (!finite(min) || !finite(max) || !(min > 0 && min < max)) throw fail('log_uniform needs 0 < min < max');
      return { kind, min, max };
    case 'int_uniform':
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || !((min as number) <= (max as number))) {
        throw fail('int_uniform needs integers min <= max');
      }
      return { kind, min: min as number, max: max as number };
    case 'q_uniform':
      if (!finite(min) || !finite(max) || !finite(q) || !(min <= max && q > 0)) {
        throw fail('q_uniform needs finite min <= max and q > 0');
      }
      checkDistinctSteps(min, max, q, fail);
      return { kind, min, max, q };
    case 'normal':
      if (!finite(mu) || !finite(sigma) || !(sigma > 0)) throw fail('normal needs finite mu and sigma > 0');
      return { kind, mu, sigma };
  }
}

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A q too fine for the magnitude of the bounds would make neighbouring grid points the same float. */
function checkDistinctSteps(min: number, max: number, q: number, fail: (m: string) => Error): void {
  const n = quantizedCount(min, max, q);
  if (n < 2) return;
  if (!(quantized(min, q, 1) > quantized(min, q, 0)) || !(quantized(min, q, n - 1) > quantized(min, q, n - 2))) {
    throw fail(`q_uniform's q = ${q} is too small to tell neighbouring values apart at this magnitude`);
  }
}

function checkScalar(v: unknown, where: string, fail: (m: string) => Error): ParamValue {
  const ok =
    typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= LIMITS.paramValue);
  if (ok) return v as ParamValue;
  if (typeof v === 'string') {
    throw fail(`${where} is a string of ${v.length} characters, longer than the ${LIMITS.paramValue} an MLflow param value may have`);
  }
  throw fail(`${where} must be a JSON scalar (number, string or boolean), got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
}

function checkValues(values: unknown, fail: (m: string) => Error): ParamValue[] {
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_VALUES) {
    const got = Array.isArray(values) ? `${values.length} entries` : typeof values;
    throw fail(`values needs a list of 1 to ${MAX_VALUES} entries (got ${got})`);
  }
  const out = values.map((v, i) => checkScalar(v, `values[${i}]`, fail));
  checkNoDuplicates(out, 'values', fail);
  return out;
}

function checkNoDuplicates(list: ParamValue[], where: string, fail: (m: string) => Error): void {
  const seen = new Set<ParamValue>();
  for (const v of list) {
    if (seen.has(v)) throw fail(`${where} lists ${JSON.stringify(v)} twice`);
    seen.add(v);
  }
}

function normalizeWhen(raw: unknown, name: string, earlier: Space, fail: (m: string) => Error): Condition | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw fail('when must be an object mapping parent names to the value (or values) that enable this parameter');
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) return null;
  const when: Condition = {};
  for (const [parentName, rawAllowed] of entries) {
    if (parentName === name) throw fail('when cannot refer to the parameter itself');
    const parent = earlier.find((p) => p.name === parentName);
    if (!parent) throw fail(`when refers to '${parentName}', which is not declared before it`);
    if (!isDiscrete(parent)) {
      throw fail(`when refers to '${parentName}', which is ${parent.kind}; a parent must be values, value, int_uniform or q_uniform`);
    }
    const list = Array.isArray(rawAllowed) ? rawAllowed : [rawAllowed];
    if (list.length === 0) throw fail(`when lists no value for '${parentName}'`);
    if (list.length > MAX_VALUES) throw fail(`when.${parentName} lists ${list.length} values, more than ${MAX_VALUES}`);
    const allowed = list.map((v, i) => checkScalar(v, `when.${parentName}[${i}]`, fail));
    checkNoDuplicates(allowed, `when.${parentName}`, fail);
    for (const v of allowed) {
      if (!paramCanTake(parent, v)) throw fail(`when.${parentName} lists ${JSON.stringify(v)}, a value '${parentName}' never takes`);
    }
    when[parentName] = allowed;
  }
  return when;
}

/** The kinds with a finite list of values: the only ones a grid can walk or a condition can name. */
export function isDiscrete(param: Param): boolean {
  return param.kind === 'categorical' || param.kind === 'constant' || param.kind === 'int_uniform' || param.kind === 'q_uniform';
}

/** How many values a discrete parameter can take, without listing them (an int range may be huge). */
export function paramValueCount(param: Param): number {
  switch (param.kind) {
    case 'categorical':
      return param.values.length;
    case 'constant':
      return 1;
    case 'int_uniform':
      return param.max - param.min + 1;
    case 'q_uniform':
      return quantizedCount(param.min, param.max, param.q);
    default:
      throw invalid(`Parameter '${param.name}' is ${param.kind}, which has no finite list of values`);
  }
}

/** The values a discrete parameter can take, in order; the very numbers the samplers produce. */
export function paramValueOptions(param: Param): ParamValue[] {
  switch (param.kind) {
    case 'categorical':
      return [...param.values];
    case 'constant':
      return [param.value];
    case 'int_uniform':
      return Array.from({ length: param.max - param.min + 1 }, (_, i) => param.min + i);
    case 'q_uniform': {
      const { min, max, q } = param;
      return Array.from({ length: quantizedCount(min, max, q) }, (_, k) => quantized(min, q, k));
    }
    default:
      throw invalid(`Parameter '${param.name}' is ${param.kind}, which has no finite list of values`);
  }
}

/** Whether a discrete parameter can take `v`, decided arithmetically so a huge range is not listed. */
export function paramCanTake(param: Param, v: ParamValue): boolean {
  switch (param.kind) {
    case 'categorical':
      return param.values.includes(v);
    case 'constant':
      return param.value === v;
    case 'int_uniform':
      return typeof v === 'number' && Number.isInteger(v) && v >= param.min && v <= param.max;
    case 'q_uniform': {
      if (typeof v !== 'number') return false;
      const k = Math.round((v - param.min) / param.q);
      return k >= 0 && k < quantizedCount(param.min, param.max, param.q) && quantized(param.min, param.q, k) === v;
    }
    default:
      return false;
  }
}

/** The canonical wire form of a space: what the server echoes back as the sweep's normalized config. */
export function spaceToRaw(space: Space): Record<string, RawParam> {
  const out: Record<string, RawParam> = {};
  for (const p of space) {
    const raw = rawBody(p);
    if (p.when !== null) raw.when = Object.fromEntries(Object.entries(p.when).map(([k, vs]) => [k, [...vs]]));
    out[p.name] = raw;
  }
  return out;
}

function rawBody(p: Param): RawParam {
  switch (p.kind) {
    case 'categorical':
      return { values: [...p.values] };
    case 'constant':
      return { value: p.value };
    case 'uniform':
    case 'log_uniform':
    case 'int_uniform':
      return { distribution: p.kind, min: p.min, max: p.max };
    case 'q_uniform':
      return { distribution: p.kind, min: p.min, max: p.max, q: p.q };
    case 'normal':
      return { distribution: p.kind, mu: p.mu, sigma: p.sigma };
  }
}
