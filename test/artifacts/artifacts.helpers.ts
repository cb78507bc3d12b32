import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTestApp, listen, seedRun, type TestApp } from '../helper.js';
import { localTree } from '../support/stored-artifacts.js';

export const MiB = 1024 * 1024;

export { listen };

/** A run in the Default experiment, with its artifact directory relative to the artifact root. */
export async function newRun(t: TestApp) {
  const { experimentId, runId } = await seedRun(t);
  const rootRel = `${experimentId}/${runId}/artifacts`;
  return { experimentId, runId, rootRel, dir: path.join(t.artifactsDir, experimentId, runId, 'artifacts') };
}

export type Run = Awaited<ReturnType<typeof newRun>>;

/** A fresh app on a real socket with one run: where most artifact tests start. */
export async function servedRun(opts: Parameters<typeof buildTestApp>[0] = {}): Promise<{ t: TestApp; port: number; run: Run }> {
  const t = await buildTestApp(opts);
  const port = await listen(t);
  return { t, port, run: await newRun(t) };
}

/** Percent-encodes each segment of a slash-separated path. */
export const enc = (rel: string) => rel.split('/').map(encodeURIComponent).join('/');

/** `/api/2.0/mlflow-artifacts/artifacts/<rel>` (or under another prefix, e.g. `/ajax-api/2.0`). */
export const artUrl = (rel: string, prefix = '/api/2.0') => `${prefix}/mlflow-artifacts/artifacts/${enc(rel)}`;

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: any;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function result(status: number, headers: IncomingHttpHeaders | Record<string, unknown>, body: Buffer): HttpResult {
  const text = body.toString('utf8');
  return { status, headers: headers as IncomingHttpHeaders, body, text, json: parseJson(text) };
}

/** One request through the app without a socket (light-my-request). */
export async function inject(
  t: TestApp,
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  opts: { body?: Buffer | string | object; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const res = await t.app.inject({ method, url, payload: opts.body as any, headers: opts.headers });
  return result(res.statusCode, res.headers, res.rawPayload);
}

/** PUT of raw bytes through inject; asserts 200 `{}`. */
export async function putOk(t: TestApp, rel: string, body: Buffer | string, prefix = '/api/2.0') {
  const res = await inject(t, 'PUT', artUrl(rel, prefix), { body: Buffer.from(body), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 200, `PUT ${rel}: ${res.text.slice(0, 300)}`);
  assert.deepEqual(res.json, {});
}

/**
 * A request over a real socket with the path sent exactly as given (nothing normalises it). The body
 * may be a buffer or a stream (piped; without a content-length header it goes out chunked).
 */
export function request(
  port: number,
  method: string,
  rawPath: string,
  opts: { headers?: Record<string, string | number>; body?: Buffer | string | Readable } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers: opts.headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(result(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const body = opts.body;
    if (body instanceof Readable) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
}

/** Downloads over a real socket, hashing as the bytes arrive (never holding the body). */
export function downloadSha256(port: number, rawPath: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; sha256: string; size: number }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: rawPath, headers, agent: false }, (res) => {
      const h = createHash('sha256');
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        h.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, sha256: h.digest('hex'), size }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Deterministic pseudo-random bytes (AES-128-CTR keystream keyed by `seed`), streamed in chunks. */
export function prngStream(seed: string, size: number, chunk = MiB): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunk);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(chunk, left);
      left -= n;
      this.push(cipher.update(n === chunk ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** The same bytes as prngStream, in memory (for small sizes). */
export function prngBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Passes `src` through, hashing it; the digest is known once the stream ended. */
export function hashing(src: Readable): { stream: Readable; digest: () => { sha256: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const pass = new Transform({
    transform(c: Buffer, _enc, done) {
      size += c.length;
      h.update(c);
      done(null, c);
    },
  });
  src.on('error', (err) => pass.destroy(err));
  src.pipe(pass);
  let out: { sha256: string; size: number } | undefined;
  return { stream: pass, digest: () => (out ??= { sha256: h.digest('hex'), size }) };
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

export const tree = localTree;

/** The data dir outside the artifact root, without the SQLite files (which change as runs are made). */
export function outsideRoot(t: TestApp): string[] {
  return tree(t.dir, (rel) => rel === 'artifacts' || /^lablog\.db(-wal|-shm|-journal)?$/.test(rel));
}

export const stagingDir = (t: TestApp) => path.join(t.dir, '.artifacts-staging');

/** What the staging dir holds besides its (empty) `mpu` folder. */
export function stagingLeftovers(t: TestApp): string[] {
  return tree(stagingDir(t)).filter((e) => e !== 'mpu/');
}

/** Polls until `cond()` holds (a state the test drives to, not a duration); fails after a generous bound. */
export async function waitFor(cond: () => boolean, what: string, boundMs = 60_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

/** Asserts an MLflow-shaped JSON error answer. */
export function assertError(res: HttpResult, status: number, code: string, context = ''): void {
  assert.equal(res.status, status, `${context} status (body: ${res.text.slice(0, 300)})`);
  assert.match(String(res.headers['content-type']), /^application\/json/, `${context} content-type`);
  assert.equal(res.json?.error_code, code, `${context} error_code (body: ${res.text.slice(0, 300)})`);
  assert.equal(typeof res.json?.message, 'string', `${context} message`);
}
