import { createCipheriv, createHash } from 'node:crypto';
import type { CrashCluster, Incarnation } from './crash-cluster.js';
import { prng } from './prng.js';

/**
 * Writers for the crash scenario, and the ledger of what each request carried and how it ended.
 * Every operation has a unique id, and everything it writes is named or numbered by that id, so that
 * afterwards each one can be found whole, found absent, or caught half-written:
 * - a log-batch `id` writes steps id*P .. id*P+P-1 of each metric key, param `p-<id>` and tag `batch-<id>`;
 * - log-parameter writes param `lp-<id>`, set-tag writes tag `st-<id>`;
 * - an upload writes `files/u-<id>.bin` under the run's artifact root, bytes known by their sha256.
 */

export const METRIC_KEYS = ['loss', 'acc'] as const;

/** acked: answered 200. unknown: no answer (the server died). refused: any other answer, which this workload never deserves. */
export type Outcome = 'acked' | 'unknown' | 'refused';

interface OpBase {
  id: number;
  run: string;
  writer: number;
  outcome: Outcome;
  detail?: string;
}
export type Op =
  | (OpBase & { kind: 'batch'; keyed: boolean; attempts: number; replayed: boolean })
  | (OpBase & { kind: 'param' | 'tag' })
  | (OpBase & { kind: 'upload'; size: number; sha256: string; killedMidway: boolean });

export interface Ledger {
  experimentId: string;
  runs: string[];
  pointsPerBatch: number;
  ops: Op[];
}

export interface WorkloadOptions {
  seed: number;
  writers: number;
  runs: number;
  /** Points per metric key per batch. */
  pointsPerBatch: number;
  /** Upload sizes, bytes, inclusive range. */
  uploadBytes: [number, number];
  /** Operations each writer completes on the last server, after every kill. */
  opsAfterLastKill: number;
}

/** Point i (0 <= i < p) of metric key k in batch `id`. */
export const batchPoint = (id: number, p: number, k: number, i: number) => ({ key: METRIC_KEYS[k], value: id + i / p + k / 10, timestamp: 1_700_000_000_000 + id * p + i, step: id * p + i });
export const batchMetrics = (id: number, p: number) => METRIC_KEYS.flatMap((_, k) => Array.from({ length: p }, (_, i) => batchPoint(id, p, k, i)));
export const batchParam = (id: number) => ({ key: `p-${id}`, value: `param of batch ${id}` });
export const batchTag = (id: number) => ({ key: `batch-${id}`, value: `tag of batch ${id}` });
export const singleParam = (id: number) => ({ key: `lp-${id}`, value: `log-parameter ${id}` });
export const singleTag = (id: number) => ({ key: `st-${id}`, value: `set-tag ${id}` });
export const uploadRel = (id: number) => `files/u-${id}.bin`;

/** Reproducible bytes for upload `id` (AES-CTR keystream: fast, and no two uploads alike). */
export function uploadBytes(id: number, size: number): Buffer {
  const key = createHash('sha256').update(`upload ${id}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

const json = (url: string, route: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/api/2.0/mlflow/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** One experiment and its runs, made on the first server before any kill. */
export async function createLedger(url: string, opts: WorkloadOptions): Promise<Ledger> {
  const must = async (route: string, body: unknown) => {
    const res = await json(url, route, body);
    if (res.status !== 200) throw new Error(`${route}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  const experimentId = (await must('experiments/create', { name: `crash-${opts.seed}` })).experiment_id as string;
  const runs: string[] = [];
  for (let r = 0; r < opts.runs; r++) runs.push((await must('runs/create', { experiment_id: experimentId, run_name: `run-${r}` })).run.info.run_id);
  return { experimentId, runs, pointsPerBatch: opts.pointsPerBatch, ops: [] };
}

interface Answer {
  outcome: Outcome;
  detail?: string;
  replayed?: boolean;
}

/** Sends one request to incarnation `inc` and classifies how it ended. */
async function attempt(cluster: CrashCluster, inc: Incarnation, send: (url: string) => Promise<Response>, keyed = false): Promise<Answer> {
  return cluster.track(async () => {
    let res: Response;
    try {
      res = await send(inc.url);
    } catch (err) {
      if (cluster.down(inc.n)) return { outcome: 'unknown' };
      return { outcome: 'refused', detail: `no answer from a live server: ${(err as Error).message} ${String((err as Error).cause ?? '')}` };
    }
    // The status line came: the server decided. A body cut off by the kill changes nothing.
    const text = await res.text().catch(() => '');
    if (res.status !== 200) return { outcome: 'refused', detail: `${res.status} ${text.slice(0, 300)}` };
    if (cluster.answered(inc.n, keyed) === 'lost') return { outcome: 'unknown', detail: 'answered 200 as the server was killed; the answer counts as lost' };
    return { outcome: 'acked', replayed: res.headers.get('idempotent-replayed') === 'true' };
  });
}

/**
 * Runs `opts.writers` writers until every planned kill is done and each writer has completed
 * `opsAfterLastKill` operations on the last server. Even-numbered writers send log-batch with an
 * Idempotency-Key and retry it after a kill until it is acknowledged; the others never retry.
 */
export async function runWriters(cluster: CrashCluster, ledger: Ledger, opts: WorkloadOptions): Promise<void> {
  let nextId = 1;
  const p = ledger.pointsPerBatch;

  async function writer(w: number): Promise<void> {
    const rng = prng(opts.seed * 31 + w + 1);
    const run = ledger.runs[w % ledger.runs.length];
    const keyed = w % 2 === 0;
    let afterLast = 0;
    let inc = await cluster.after(0);
    while (afterLast < opts.opsAfterLastKill) {
      if (cluster.down(inc.n)) inc = await cluster.after(inc.n);
      const id = nextId++;
      const r = rng();
      const base = { id, run, writer: w };
      let op: Op;
      let answer: Answer;
      if (r < 0.1) {
        const size = opts.uploadBytes[0] + Math.floor(rng() * (opts.uploadBytes[1] - opts.uploadBytes[0] + 1));
        const bytes = uploadBytes(id, size);
        const killHere = cluster.claimUploadKill(inc.n);
        op = { ...base, kind: 'upload', size, sha256: createHash('sha256').update(bytes).digest('hex'), killedMidway: killHere, outcome: 'unknown' };
        answer = await attempt(cluster, inc, (url) => upload(url, `${ledger.experimentId}/${run}/artifacts/${uploadRel(id)}`, bytes, killHere ? () => cluster.killMidUpload(bytes.subarray(0, 64)) : null));
        // Answered before its middle (only a refusal can be): the planned kill still has to happen.
        if (killHere && answer.outcome !== 'unknown') await cluster.kill('upload');
      } else if (r < 0.2) {
        op = { ...base, kind: 'param', outcome: 'unknown' };
        answer = await attempt(cluster, inc, (url) => json(url, 'runs/log-parameter', { run_id: run, ...singleParam(id) }));
      } else if (r < 0.3) {
        op = { ...base, kind: 'tag', outcome: 'unknown' };
        answer = await attempt(cluster, inc, (url) => json(url, 'runs/set-tag', { run_id: run, ...singleTag(id) }));
      } else {
        const body = { run_id: run, metrics: batchMetrics(id, p), params: [batchParam(id)], tags: [batchTag(id)] };
        const headers: Record<string, string> = keyed ? { 'idempotency-key': `batch-${id}` } : {};
        const batch: Op = { ...base, kind: 'batch', keyed, attempts: 0, replayed: false, outcome: 'unknown' };
        op = batch;
        for (;;) {
          batch.attempts++;
          answer = await attempt(cluster, inc, (url) => json(url, 'runs/log-batch', body, headers), keyed);
          if (!keyed || answer.outcome !== 'unknown') break;
          inc = await cluster.after(inc.n);
        }
        batch.replayed = answer.replayed === true;
      }
      op.outcome = answer.outcome;
      if (answer.detail) op.detail = answer.detail;
      ledger.ops.push(op);
      if (answer.outcome === 'unknown') inc = await cluster.after(inc.n);
      else if (cluster.finished) afterLast++;
    }
  }

  await Promise.all(Array.from({ length: opts.writers }, (_, w) => writer(w)));
}

/** A streamed PUT; with `midway`, the stream stops at half, lets `midway` kill the server, and fails. */
function upload(url: string, rel: string, bytes: Buffer, midway: (() => Promise<void>) | null): Promise<Response> {
  const chunk = 32 * 1024;
  async function* body() {
    for (let off = 0; off < bytes.length; off += chunk) {
      if (midway && off >= bytes.length / 2) {
        await midway();
        throw new Error('the server was killed in the middle of this upload');
      }
      yield bytes.subarray(off, off + chunk);
    }
  }
  const target = `${url}/api/2.0/mlflow-artifacts/artifacts/${rel}`;
  return fetch(target, { method: 'PUT', body: body() as unknown as BodyInit, duplex: 'half' } as RequestInit);
}
