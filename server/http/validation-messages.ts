// MLflow 2.10's wording of request validation errors (server/handlers.py `_validate_param_against_schema`):
// fields are checked in the order of the handler's schema dict, a required one that is absent, null or
// "" is "Missing value ...", any other failure "Invalid value <str(value)> ... Hint: Value was of type
// '<python type>'.", both followed by the API docs sentence. docs/validation.md has the rules.

const MLFLOW_REQUIRED = new WeakSet<object>();

/**
 * Marks a field MLflow's handler lists with `_assert_required` although zod lets it be absent (run_id
 * may come as the deprecated run_uuid; some lists are checked by the handler itself).
 */
export function mlflowRequired<T extends object>(schema: T): T {
  MLFLOW_REQUIRED.add(schema);
  return schema;
}
const isMlflowRequired = (schema: object) => MLFLOW_REQUIRED.has(schema);

export const API_DOCS = 'See the API docs for more information about request parameters.';

export const missingValue = (param: string) => `Missing value for required parameter '${param}'. ${API_DOCS}`;

/** `value` as Python's str() prints the JSON value MLflow parsed; `literal` is the number as the client wrote it. */
export function invalidValue(param: string, value: unknown, literal?: string): string {
  return `Invalid value ${clip(pyStr(value, literal))} for parameter '${param}' supplied. Hint: Value was of type '${pyType(value, literal)}'. ${API_DOCS}`;
}

/** A whole request list in a message would be unbounded (MLflow prints it whole); the start says enough. */
const MAX_RENDERED = 1000;
const clip = (s: string) => (s.length > MAX_RENDERED ? `${s.slice(0, MAX_RENDERED)}...` : s);

/** A JSON number literal with a fraction or exponent is a Python float ("9.0"), otherwise an int. */
const isFloatLiteral = (literal: string | undefined, n: number) =>
  literal !== undefined ? /[.eE]/.test(literal) : !Number.isInteger(n);

export function pyType(v: unknown, literal?: string): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return isFloatLiteral(literal, v) ? 'float' : 'int';
  if (typeof v === 'string') return 'str';
  return Array.isArray(v) ? 'list' : 'dict';
}

/** Python's str(): strings bare at the top, repr() inside lists and dicts. */
export function pyStr(v: unknown, literal?: string): string {
  return typeof v === 'string' ? v : pyRepr(v, literal);
}

function pyRepr(v: unknown, literal?: string): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return isFloatLiteral(literal, v) ? pyFloat(v) : String(v);
  if (typeof v === 'string') return pyStrRepr(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyRepr(x)).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

/** repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16, two-digit exponents. */
function pyFloat(x: number): string {
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mant, exp] = x.toExponential().split('e');
    const sign = exp.startsWith('-') ? '-' : '+';
    return `${mant}e${sign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

/** repr(str): single quotes unless the text has one and no double quote; escapes as Python writes them. */
function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return q + out + q;
}

export interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

interface ShapedSchema {
  shape?: Record<string, { safeParse(v: unknown): { success: boolean } }>;
  unwrap?: () => unknown;
}

/** The object shape behind a route schema (an optional body is unwrapped). */
function shapeOf(schema: unknown): ShapedSchema['shape'] | undefined {
  let s = schema as ShapedSchema | undefined;
  for (let i = 0; i < 3 && s && !s.shape && typeof s.unwrap === 'function'; i++) s = s.unwrap() as ShapedSchema;
  return s?.shape;
}

const absent = (v: unknown) => v === undefined || v === null || v === '';

/**
 * The message MLflow gives for the first field that fails, walking the schema's keys in order (each
 * route's zod object lists its fields in the order of MLflow's handler schema dict); a required field
 * that is absent fails there even when zod let it pass (run_id, which may come as run_uuid).
 */
export function describeValidation(
  issues: ValidationIssue[],
  where: string,
  input: unknown,
  opts: { schema?: unknown; rawJson?: string } = {},
): string {
  const obj = input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const failing = new Set(issues.map((i) => i.instancePath.split('/').filter(Boolean)[0] ?? ''));
  const shape = shapeOf(opts.schema);
  for (const [key, field] of Object.entries(shape ?? {})) {
    let value = obj[key];
    // handlers.py: a missing run_id is looked up as the deprecated run_uuid.
    if (key === 'run_id' && (value === undefined || value === null) && 'run_uuid' in obj) value = obj.run_uuid;
    const required = isMlflowRequired(field) || !field.safeParse(undefined).success;
    if (required && absent(value)) return missingValue(key);
    if (failing.has(key)) return describeField(issues.find((i) => i.instancePath.split('/').filter(Boolean)[0] === key)!, obj, opts.rawJson);
  }
  if (!issues[0] || issues[0].instancePath.split('/').filter(Boolean).length === 0) return invalidValue(where, input);
  return describeField(issues[0], obj, opts.rawJson);
}

/**
 * One failing field. Inside a list or object: a wrong value is named by its path (`metrics[500].value`,
 * as MLflow's validation.py names batch entries), while an entry lacking a field is reported as the
 * whole top-level value, as MLflow answers a log-batch metric without a timestamp.
 */
function describeField(issue: ValidationIssue, obj: Record<string, unknown>, raw: string | undefined): string {
  const segments = issue.instancePath.split('/').filter(Boolean);
  const top = segments[0];
  let leaf: unknown = obj;
  for (const s of segments) leaf = leaf !== null && typeof leaf === 'object' ? (leaf as Record<string, unknown>)[s] : undefined;
  if (obj[top] === undefined) return missingValue(top);
  if (segments.length === 1 || leaf === undefined) return invalidValue(top, obj[top], numberLiteral(raw, top, obj[top]));
  const path = top + segments.slice(1).map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('');
  return invalidValue(path, leaf);
}

/** The literal a client wrote for a top-level number (JSON.parse forgets whether it was `9` or `9.0`). */
function numberLiteral(raw: string | undefined, key: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || raw === undefined) return undefined;
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`"${esc}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`).exec(raw);
  return m && Number(m[1]) === value ? m[1] : undefined;
}
