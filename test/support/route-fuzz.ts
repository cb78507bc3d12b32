import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { EX } from '../../server/api/schemas.js';

/**
 * Requests generated from Fastify's own route table (not a hand-kept list), so a route added tomorrow
 * is fuzzed tomorrow. Shared by test/fuzz-routes.test.ts (10,000 cases) and bench/fuzz.ts (100,000).
 */

export interface RouteEntry {
  method: string;
  url: string;
  schema?: Record<string, unknown>;
}

/** Ids of seeded entities, so generated requests reach past "does not exist" into the handlers. */
export interface FuzzSeed {
  expId: string;
  runId: string;
  model: string;
  sweepId: string;
  artifact: string;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

/** encodeURIComponent, with lone surrogates (which it refuses) replaced as a UTF-8 encoder would. */
const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

function fieldNames(schema: unknown): string[] {
  const s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { shape?: Record<string, unknown>; in?: unknown } } } | undefined;
  const shape = s?.shape ?? s?._zod?.def?.shape;
  if (shape) return Object.keys(shape);
  const inner = s?._zod?.def?.in; // a pipe: the input side names the fields
  return inner ? fieldNames(inner) : [];
}

function examplesOf(schema: unknown, seed: FuzzSeed): Record<string, unknown>[] {
  const meta = (schema as z.ZodType | undefined)?.meta?.() as { examples?: unknown[] } | undefined;
  return (meta?.examples ?? [])
    .map((e) => JSON.parse(JSON.stringify(e).replaceAll(EX.run, seed.runId).replaceAll(`"${EX.experiment}"`, `"${seed.expId}"`)))
    .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object' && !Array.isArray(e));
}

/** Values for a field: mostly plausible (seeded ids, keys), often of the wrong type or shape. */
function values(seed: FuzzSeed): fc.Arbitrary<unknown> {
  const plausible = fc.constantFrom<unknown>(seed.expId, seed.runId, seed.model, seed.sweepId, '1', 'loss', 'lr', 'ACTIVE_ONLY', 'ALL', 'FINISHED', 'Production', 'champion', 'READ', 'step', '0', 10, 0, -1);
  const hostile = fc.constantFrom<unknown>(
    '', ' ', '..', '../../etc/passwd', '%2e%2e%2f', 'a\u0000b', '\ud800', 'ключ', 'x'.repeat(70_000), 2 ** 63, -(2 ** 53) - 2, 1e308, 1.5,
    null, true, [], {}, [null], JSON.parse('{"__proto__":{"polluted":"yes"}}'), { constructor: { prototype: { polluted: 'yes' } } },
  );
  return fc.oneof(
    { arbitrary: plausible, weight: 4 },
    { arbitrary: hostile, weight: 3 },
    { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
    { arbitrary: fc.integer(), weight: 1 },
    { arbitrary: fc.array(fc.oneof(plausible, fc.string({ maxLength: 5 })), { maxLength: 4 }), weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
  );
}

function nested(depth: number, object: boolean): string {
  return object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** The JSON text of `fields`, with keys that try to reach Object.prototype added verbatim. */
function withPollution(fields: Record<string, unknown>, how: number): string {
  const text = JSON.stringify(fields);
  const key = ['"__proto__":{"polluted":"yes"}', '"constructor":{"prototype":{"polluted":"yes"}}', '"__proto__":null'][how % 3];
  return text === '{}' ? `{${key}}` : `{${key},${text.slice(1)}`;
}

function bodies(schema: unknown, seed: FuzzSeed): fc.Arbitrary<string | Buffer | undefined> {
  const names = fieldNames(schema);
  const examples = examplesOf(schema, seed);
  const known = names.length > 0 ? names : ['run_id', 'experiment_id', 'name', 'key', 'value'];
  const fields = fc.dictionary(fc.constantFrom(...known, 'extra', '__proto__'), values(seed), { maxKeys: known.length + 1 });
  // An example with one field replaced or dropped: gets past most checks and fails (or not) deep inside.
  const mutated = examples.length === 0
    ? fields
    : fc.tuple(fc.constantFrom(...examples), fc.constantFrom(...Object.keys(examples[0]), 'extra'), fc.option(values(seed), { nil: undefined })).map(([ex, k, v]) => {
        const copy: Record<string, unknown> = { ...ex };
        if (v === undefined) delete copy[k];
        else copy[k] = v;
        return copy;
      });
  return fc.oneof(
    { arbitrary: mutated.map((f) => JSON.stringify(f)), weight: 120 },
    { arbitrary: fields.map((f) => JSON.stringify(f)), weight: 80 },
    { arbitrary: fc.tuple(mutated, fc.nat()).map(([f, how]) => withPollution(f, how)), weight: 40 },
    { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 20 },
    { arbitrary: fc.tuple(fc.constantFrom(10, 63, 64, 65, 1000, 50_000), fc.boolean()).map(([d, o]) => `{"run_id":${nested(d, o)}}`), weight: 20 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from(b), Buffer.from('"}')])), weight: 20 },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 20 },
    { arbitrary: fc.constantFrom(1_100_000, 9 * 1024 * 1024).map((n) => `{"name":"${'n'.repeat(n)}"}`), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 20 },
  );
}

function queryString(schema: unknown, seed: FuzzSeed): fc.Arbitrary<string> {
  const names = fieldNames(schema);
  const examples = examplesOf(schema, seed);
  const key = fc.oneof(fc.constantFrom(...names, 'extra'), fc.constantFrom('__proto__', 'constructor', '__proto__[polluted]', 'a[b]', ''), fc.string({ maxLength: 6 }));
  const value = values(seed).map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? ''));
  const pairs = fc.array(fc.tuple(key, value), { maxLength: 5 });
  const fromExample = examples.length === 0 ? pairs : fc.tuple(fc.constantFrom(...examples), pairs).map(([ex, extra]) => [...Object.entries(ex).map(([k, v]) => [k, String(v)] as [string, string]), ...extra]);
  return fc.oneof(fromExample, pairs).map((list) => list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'));
}

function pathValue(seed: FuzzSeed, wildcard: boolean): fc.Arbitrary<string> {
  const artifactPaths = [`${seed.expId}/${seed.runId}/artifacts/${seed.artifact}`, `${seed.expId}/${seed.runId}/artifacts/new.txt`, `${seed.expId}/${seed.runId}/artifacts`];
  const junk = ['..', '../../../etc/passwd', '%2e%2e/%2e%2e/x', 'a//b', 'x%00y', '%ff', 'é', '~', 'x'.repeat(3000), '1', seed.sweepId, seed.runId];
  return fc.oneof(
    fc.constantFrom(...(wildcard ? artifactPaths : [seed.sweepId, '1', seed.runId])),
    fc.constantFrom(...junk),
    fc.string({ maxLength: 12 }).map(enc),
  );
}

function concreteUrl(url: string, seed: FuzzSeed): fc.Arbitrary<string> {
  const parts = url.split(/(:[A-Za-z_]+|\*)/).filter((p) => p !== '');
  const pieces = parts.map((p) => (p === '*' ? pathValue(seed, true) : p.startsWith(':') ? pathValue(seed, false) : fc.constant(p)));
  return fc.tuple(...pieces).map((ps) => ps.join(''));
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'x/y;;;', ''];

const headers: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      'content-type': fc.constantFrom(...CONTENT_TYPES),
      authorization: fc.constantFrom('Bearer x', 'Basic !!!', 'Basic ' + Buffer.from('a:b').toString('base64'), 'Token', ''),
      accept: fc.constantFrom('*/*', 'text/html', 'application/json', 'image/png'),
      'content-encoding': fc.constantFrom('gzip', 'br', 'identity'),
      'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1'),
      'idempotency-key': fc.string({ unit: fc.constantFrom(...'abcdef0123456789-'), maxLength: 40 }),
    },
    { requiredKeys: [] },
  )
  .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '')));

/** One request against a route of `routes`: its method most of the time, any method sometimes. */
export function requestArbitrary(routes: RouteEntry[], seed: FuzzSeed): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes).chain((r) => {
    const method = fc.oneof({ arbitrary: fc.constant(r.method), weight: 6 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 });
    const url = concreteUrl(r.url, seed);
    const query = fc.option(queryString(r.schema?.querystring, seed), { nil: undefined, freq: 2 });
    const body = bodies(r.schema?.body, seed);
    const jsonDefault = fc.constant<Record<string, string>>({ 'content-type': 'application/json' });
    const hdrs = fc.oneof({ arbitrary: jsonDefault, weight: 3 }, { arbitrary: headers, weight: 2 });
    return fc.tuple(method, url, query, body, hdrs).map(([m, u, q, b, h]) => {
      const req: FuzzRequest = { method: m, url: q ? `${u}?${q}` : u, headers: h };
      if (b !== undefined && m !== 'GET' && m !== 'HEAD') req.payload = b;
      return req;
    });
  });
}

export function describeRequest(r: FuzzRequest): string {
  const body = r.payload === undefined ? '' : ` body=${String(r.payload).slice(0, 300)}${r.payload.length > 300 ? `…(${r.payload.length})` : ''}`;
  return `${r.method} ${r.url.slice(0, 300)}${body} headers=${JSON.stringify(r.headers)}`;
}

/** Every file under `dir` with its size, so a rejected upload that left a file behind is seen. */
export function fileSnapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      const p = path.join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st) out.push(`${path.relative(dir, p)}:${st.size}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

/**
 * Sends one request and checks the properties every answer must have; returns what broke, or null.
 * A rejected request must leave no row changed: `total_changes()` counts every row any statement of
 * the server's connection wrote, so even a write rolled back afterwards shows.
 */
export async function checkRequest(app: FastifyInstance, db: Database, artifactsDir: string, req: FuzzRequest): Promise<{ failure: string | null; status: number }> {
  const changes = db.prepare('SELECT total_changes()').pluck();
  const rowsBefore = changes.get();
  const filesBefore = fileSnapshot(artifactsDir);
  const res = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload });
  const what = () => `${describeRequest(req)}\n  -> ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (res.statusCode >= 500) return { failure: `5xx: ${what()}`, status: res.statusCode };
  const api = /^\/(api|ajax-api)\//.test(req.url);
  if (res.statusCode >= 400 && api && req.method !== 'HEAD') {
    let json: { error_code?: unknown; message?: unknown } | undefined;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    if (typeof json?.error_code !== 'string' || typeof json?.message !== 'string') return { failure: `error not in MLflow's shape: ${what()}`, status: res.statusCode };
  }
  if (res.statusCode >= 400) {
    if (changes.get() !== rowsBefore) return { failure: `a rejected request changed rows: ${what()}`, status: res.statusCode };
    if (fileSnapshot(artifactsDir) !== filesBefore) return { failure: `a rejected request changed artifact files: ${what()}`, status: res.statusCode };
  }
  if ((Object.prototype as Record<string, unknown>).polluted !== undefined) return { failure: `Object.prototype polluted: ${what()}`, status: res.statusCode };
  return { failure: null, status: res.statusCode };
}
