import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeChunk } from '../../server/store/chunk-codec.js';
import { stagedFiles, stagingDir } from './crash-cluster.js';
import { batchParam, batchPoint, batchTag, METRIC_KEYS, singleParam, singleTag, uploadRel, type Ledger, type Op } from './crash-workload.js';

/**
 * What a run looks like after the crashes, read once over HTTP and once from the SQLite rows, and the
 * checks of the ledger against it: acknowledged means present exactly once, unacknowledged means
 * whole or absent, and nothing appears that no request carried.
 */

export interface RunView {
  params: Map<string, string>;
  tags: Map<string, string>;
  /** metric key -> points as [step, timestamp, value], sorted by step. */
  points: Map<string, [number, number, number][]>;
  /** metric key -> the latest point the run reports (runs/get, or the metric_series row). */
  latest: Map<string, { step: number; value: number }>;
}

export interface Tally {
  acked: number;
  unknownWhole: number;
  unknownAbsent: number;
  retried: number;
  replayed: number;
}

export interface Verdict {
  violations: string[];
  tally: Record<Op['kind'], Tally>;
  points: number;
}

const byStep = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1];

export async function readRunOverHttp(url: string, runId: string): Promise<RunView> {
  const get = async (route: string) => {
    const res = await fetch(`${url}/api/2.0/mlflow/${route}`);
    if (res.status !== 200) throw new Error(`GET ${route}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  const run = (await get(`runs/get?run_id=${runId}`)).run;
  const kv = (list: { key: string; value: string }[] | undefined) => new Map((list ?? []).map((x) => [x.key, x.value]));
  const view: RunView = { params: kv(run.data.params), tags: kv(run.data.tags), points: new Map(), latest: new Map() };
  for (const m of run.data.metrics ?? []) view.latest.set(m.key, { step: m.step, value: m.value });
  for (const key of METRIC_KEYS) {
    const points: [number, number, number][] = [];
    let token: string | undefined;
    do {
      const page = await get(`metrics/get-history?run_id=${runId}&metric_key=${key}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      for (const m of page.metrics ?? []) points.push([m.step, m.timestamp, m.value]);
      token = page.next_page_token;
    } while (token);
    view.points.set(key, points.sort(byStep));
  }
  return view;
}

/** The same view straight from the tables: tail rows plus decoded chunks, and the series summary row. */
export function readRunFromRows(db: Database.Database, runUuid: string): RunView & { counts: Map<string, number> } {
  const runId = (db.prepare('SELECT id FROM runs WHERE run_uuid = ?').get(runUuid) as { id: number }).id;
  const kv = (table: string) => new Map((db.prepare(`SELECT key, value FROM ${table} WHERE run_id = ?`).all(runId) as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  const view = { params: kv('params'), tags: kv('tags'), points: new Map(), latest: new Map(), counts: new Map() } as RunView & { counts: Map<string, number> };
  const series = db.prepare('SELECT id, key, step, value, count FROM metric_series WHERE run_id = ?').all(runId) as { id: number; key: string; step: number; value: number; count: number }[];
  for (const s of series) {
    const points: [number, number, number][] = [];
    const pieces = db.prepare('SELECT data FROM metric_tail WHERE series_id = ?').pluck().all(s.id) as Buffer[];
    for (const data of [...pieces, ...(db.prepare('SELECT data FROM metric_chunks WHERE series_id = ?').pluck().all(s.id) as Buffer[])]) {
      const c = decodeChunk(data);
      for (let i = 0; i < c.values.length; i++) points.push([c.steps[i], c.timestamps[i], c.values[i]]);
    }
    view.points.set(s.key, points.sort(byStep));
    view.latest.set(s.key, { step: s.step, value: s.value });
    view.counts.set(s.key, s.count);
  }
  return view;
}

const KINDS: Op['kind'][] = ['batch', 'param', 'tag', 'upload'];
export const emptyTallies = () =>
  Object.fromEntries(KINDS.map((k) => [k, { acked: 0, unknownWhole: 0, unknownAbsent: 0, retried: 0, replayed: 0 }])) as Record<Op['kind'], Tally>;

/** One operation's verdict from which of its parts are there: all or none, and all if acknowledged. */
function judge(op: Op, parts: boolean[], tallies: Record<Op['kind'], Tally>, bad: (msg: string) => void): void {
  const whole = parts.every(Boolean);
  if (!whole && parts.some(Boolean)) bad(`${op.kind} ${op.id} is half there (parts present: ${parts.join(', ')})`);
  const t = tallies[op.kind];
  // A refused request is reported once by the scenario; its data may be there or not.
  if (op.outcome === 'acked') {
    t.acked++;
    if (!whole) bad(`${op.kind} ${op.id} was acknowledged and is missing`);
  } else if (op.outcome === 'unknown') {
    if (whole) t.unknownWhole++;
    else t.unknownAbsent++;
  }
  if (op.kind === 'batch') {
    if (op.attempts > 1) t.retried++;
    if (op.replayed) t.replayed++;
  }
}

/** Checks one run's view against the ledger; `where` names the source (HTTP or rows) in each violation. */
export function checkRun(ledger: Ledger, runId: string, view: RunView, where: string): Verdict {
  const p = ledger.pointsPerBatch;
  const ops = ledger.ops.filter((o) => o.run === runId);
  const byId = new Map(ops.map((o) => [o.id, o]));
  const violations: string[] = [];
  const tally = emptyTallies();
  const bad = (msg: string) => violations.push(`${where}, run ${runId}: ${msg}`);

  // Nothing that no request carried, and no point twice (one line per batch and key, however many points).
  const seen = new Map<number, Map<string, number>>();
  const faults = new Map<string, number>();
  let total = 0;
  for (const [key, points] of view.points) {
    total += points.length;
    for (let i = 0; i < points.length; i++) {
      const [step, ts, value] = points[i];
      const id = Math.floor(step / p);
      const k = METRIC_KEYS.indexOf(key as (typeof METRIC_KEYS)[number]);
      const expected = k >= 0 && byId.get(id)?.kind === 'batch' ? batchPoint(id, p, k, step - id * p) : undefined;
      let fault = '';
      if (i > 0 && points[i - 1][0] === step) fault = 'stored twice';
      else if (!expected) fault = 'from no batch sent to this run';
      else if (expected.timestamp !== ts || expected.value !== value) fault = 'with another timestamp or value than sent';
      if (fault) faults.set(`batch ${id}: ${key} points ${fault}`, (faults.get(`batch ${id}: ${key} points ${fault}`) ?? 0) + 1);
      const perKey = seen.get(id) ?? new Map<string, number>();
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      seen.set(id, perKey);
    }
  }
  for (const [fault, n] of faults) bad(`${fault} (${n})`);
  const ours: [string, Map<string, string>, string[]][] = [['param', view.params, ['p-', 'lp-']], ['tag', view.tags, ['batch-', 'st-']]];
  for (const [name, map, prefixes] of ours) {
    for (const key of map.keys()) {
      const m = /^([a-z]+-)(\d+)$/.exec(key);
      if (m && prefixes.includes(m[1]) && !byId.has(Number(m[2]))) bad(`${name} ${key} belongs to no request sent to this run`);
    }
  }

  for (const op of ops) {
    // Each part: present with the value sent, or absent; present with another value is a violation.
    const parts: boolean[] = [];
    const has = (map: Map<string, string>, kv: { key: string; value: string }) => {
      const got = map.get(kv.key);
      if (got !== undefined && got !== kv.value) bad(`${op.kind} ${op.id}: ${kv.key} = '${got}', sent '${kv.value}'`);
      parts.push(got !== undefined);
    };
    if (op.kind === 'batch') {
      has(view.params, batchParam(op.id));
      has(view.tags, batchTag(op.id));
      for (const key of METRIC_KEYS) {
        const n = seen.get(op.id)?.get(key) ?? 0;
        if (n !== 0 && n !== p) bad(`batch ${op.id} has ${n} of its ${p} ${key} points`);
        parts.push(n === p);
      }
    } else if (op.kind === 'param') has(view.params, singleParam(op.id));
    else if (op.kind === 'tag') has(view.tags, singleTag(op.id));
    else continue;
    judge(op, parts, tally, bad);
  }
  // The run's latest value is the stored point at its highest step (all steps are distinct here).
  for (const [key, points] of view.points) {
    const last = points.at(-1);
    const latest = view.latest.get(key);
    if (last && (latest?.step !== last[0] || latest.value !== last[2])) bad(`latest ${key} is ${JSON.stringify(latest)}; the highest stored point is ${JSON.stringify(last)}`);
  }
  return { violations, tally, points: total };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Uploads, over HTTP (listing and download) and on disk: each acknowledged one is there with its
 * bytes, any other is there whole or absent, no file is there that no upload carried, and the
 * staging area holds nothing but its empty multipart folder.
 */
export async function checkArtifacts(url: string, dataDir: string, ledger: Ledger): Promise<Verdict> {
  const violations: string[] = [];
  const tally = emptyTallies();
  const uploads = ledger.ops.filter((o) => o.kind === 'upload');
  const byRel = new Map(uploads.map((o) => [`${ledger.experimentId}/${o.run}/artifacts/${uploadRel(o.id)}`, o]));
  const listed = new Map<string, number>();
  for (const run of ledger.runs) {
    const dir = `${ledger.experimentId}/${run}/artifacts/files`;
    const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(dir)}`);
    if (res.status !== 200) throw new Error(`listing ${dir}: ${res.status} ${await res.text()}`);
    for (const f of ((await res.json()) as any).files ?? []) listed.set(`${dir}/${f.path}`, f.file_size);
  }
  for (const [rel, size] of listed) {
    const op = byRel.get(rel);
    if (!op) violations.push(`listing shows ${rel}, which no upload carried`);
    else if (op.size !== size) violations.push(`listing shows ${rel} with ${size} bytes, uploaded ${op.size}`);
  }
  for (const [rel, op] of byRel) {
    const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${rel}`);
    const body = Buffer.from(await res.arrayBuffer());
    const present = res.status === 200;
    if (present && (body.length !== op.size || sha256(body) !== op.sha256)) violations.push(`GET ${rel}: ${body.length} bytes that are not the ${op.size} uploaded`);
    else if (!present && res.status !== 404) violations.push(`GET ${rel}: ${res.status}`);
    if (present && op.killedMidway) violations.push(`${rel} is there, though the server never received its second half`);
    if (present !== listed.has(rel)) violations.push(`${rel} is ${present ? '' : 'not '}downloadable but ${listed.has(rel) ? '' : 'not '}listed`);
    judge(op, [present], tally, (msg) => violations.push(`HTTP: ${msg}`));
  }
  const root = path.join(dataDir, 'artifacts');
  for (const rel of filesUnder(root)) {
    const op = byRel.get(rel);
    const bytes = readFileSync(path.join(root, rel));
    if (!op) violations.push(`disk: ${rel} under the artifact root, which no upload carried`);
    else if (bytes.length !== op.size || sha256(bytes) !== op.sha256) violations.push(`disk: ${rel} has ${bytes.length} bytes that are not the ${op.size} uploaded`);
  }
  const staged = stagedFiles(dataDir);
  if (staged.length > 0) violations.push(`disk: staging files left behind: ${staged.join(', ')}`);
  const mpu = path.join(stagingDir(dataDir), 'mpu');
  if (existsSync(mpu) && readdirSync(mpu).length > 0) violations.push(`disk: multipart uploads left behind: ${readdirSync(mpu).join(', ')}`);
  return { violations, tally, points: 0 };
}

function filesUnder(root: string, rel = ''): string[] {
  if (!existsSync(path.join(root, rel))) return [];
  return readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(root, r) : [r];
  });
}
