import path from 'node:path';
import { invalid } from '../errors.js';
import type { Batch, KeyValue, MetricPoint } from '../store/types.js';

// MLflow's limits (validation.py); clients split their batches by these numbers.
export const LIMITS = {
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchEntities: 1000,
  batchBytes: 1_000_000,
  keyLength: 250,
  paramValue: 6000,
  tagValue: 5000,
  experimentName: 500,
  experimentTagValue: 5000,
} as const;

const VALID_NAME = /^[/\w.\- ]*$/;

/** Keys may become file names (artifact paths, exports), so they must not normalise to another path. */
function pathNotUnique(name: string): boolean {
  const norm = normpath(name);
  return norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/');
}

/** Python's posixpath.normpath, which MLflow uses: unlike Node's normalize it drops a trailing slash. */
function normpath(name: string): string {
  const norm = path.posix.normalize(name);
  return norm.length > 1 ? norm.replace(/\/+$/, '') : norm;
}

export function validateKey(kind: 'metric' | 'param' | 'tag', key: string): void {
  if (!VALID_NAME.test(key)) {
    throw invalid(
      `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
    );
  }
  if (pathNotUnique(key)) {
    throw invalid(
      `Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${normpath(key)}'`,
    );
  }
  checkLength(`${capitalize(kind)} key`, key, LIMITS.keyLength);
}

export function checkLength(what: string, value: string, limit: number): void {
  if (value.length > limit) {
    throw invalid(`${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`);
  }
}

export function validateMetric(m: MetricPoint): void {
  validateKey('metric', m.key);
  validatePoint(m);
}

function validatePoint(m: MetricPoint): void {
  if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
    throw invalid(`Got invalid timestamp ${m.timestamp} for metric '${m.key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `);
  }
  if (!Number.isSafeInteger(m.step)) {
    throw invalid(`Got invalid step ${m.step} for metric '${m.key}' (value=${m.value}). Step must be a valid long (64-bit integer).`);
  }
}

export function validateParam(p: KeyValue): void {
  validateKey('param', p.key);
  checkLength('Param value', p.value, LIMITS.paramValue);
}

export function validateTag(t: KeyValue): void {
  validateKey('tag', t.key);
  checkLength('Tag value', t.value, LIMITS.tagValue);
}

export function validateBatch(b: Batch): void {
  const counts: [string, number, number][] = [
    ['metrics', b.metrics.length, LIMITS.batchMetrics],
    ['params', b.params.length, LIMITS.batchParams],
    ['tags', b.tags.length, LIMITS.batchTags],
  ];
  for (const [what, n, limit] of counts) {
    if (n > limit) {
      throw invalid(`A batch logging request can contain at most ${limit} ${what}. Got ${n} ${what}. Please split up ${what} across multiple requests and try again.`);
    }
  }
  const total = b.metrics.length + b.params.length + b.tags.length;
  if (total > LIMITS.batchEntities) {
    throw invalid(`A batch logging request can contain at most ${LIMITS.batchEntities} metrics, params, and tags in total. Got ${total} in total. Please split up metrics, params, and tags across multiple requests and try again.`);
  }
  // MLflow rejects a repeated param key in one batch even when the values agree.
  const seen = new Set<string>();
  const dupes: string[] = [];
  for (const p of b.params) {
    if (seen.has(p.key)) dupes.push(p.key);
    seen.add(p.key);
  }
  if (dupes.length > 0) {
    throw invalid(`Duplicate parameter keys have been submitted: [${dupes.map((k) => `'${k}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`);
  }
  // A batch repeats a few keys over many steps (10 keys x 100 steps): each key's checks (a regex, a
  // path normalisation, messages built) run once, not per point; the first failing point still fails.
  const keys = new Set<string>();
  for (const m of b.metrics) {
    if (!keys.has(m.key)) {
      validateKey('metric', m.key);
      keys.add(m.key);
    }
    validatePoint(m);
  }
  b.params.forEach(validateParam);
  b.tags.forEach(validateTag);
}

export function validateExperimentName(name: string): void {
  if (name === '') throw invalid("Missing value for required parameter 'name'. See the API docs for more information about request parameters.");
  checkLength('Experiment name', name, LIMITS.experimentName);
}

export function validateExperimentTag(t: KeyValue): void {
  validateKey('tag', t.key);
  checkLength('Tag value', t.value, LIMITS.experimentTagValue);
}

/**
 * MLflow's checks on an experiment's artifact location: no runs:/ URI, no URL fragment, no `;params`
 * on the last path segment (Python's urlparse), and no `..` in the query: each can point artifact
 * paths outside the intended root.
 */
export function validateArtifactLocation(location: string): void {
  if (location.startsWith('runs:')) throw invalid(`Artifact location cannot be a runs:/ URI. Given: '${location}'`);
  const hash = location.indexOf('#');
  const fragment = hash >= 0 ? location.slice(hash + 1) : '';
  const beforeHash = hash >= 0 ? location.slice(0, hash) : location;
  const q = beforeHash.indexOf('?');
  const query = q >= 0 ? beforeHash.slice(q + 1) : '';
  const pathPart = q >= 0 ? beforeHash.slice(0, q) : beforeHash;
  const lastSegment = pathPart.slice(pathPart.lastIndexOf('/') + 1);
  const params = lastSegment.includes(';') ? lastSegment.slice(lastSegment.indexOf(';') + 1) : '';
  if (fragment || params) throw invalid("'artifact_location' URL can't include fragments or params.");
  let decoded = query;
  try {
    decoded = decodeURIComponent(query);
  } catch {
    // undecodable escapes are checked as written
  }
  if (decoded.includes('..')) throw invalid('Invalid query string');
}

function capitalize(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}
