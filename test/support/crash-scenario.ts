import path from 'node:path';
import Database from 'better-sqlite3';
import { CrashCluster, type KillPlan, type KillRecord } from './crash-cluster.js';
import { checkArtifacts, checkRun, emptyTallies, readRunFromRows, readRunOverHttp, type Tally, type Verdict } from './crash-verify.js';
import { createLedger, runWriters, type Ledger, type Op, type WorkloadOptions } from './crash-workload.js';
import { tempDir } from './lablog-process.js';
import { prng } from './prng.js';

/**
 * The crash scenario, shared by test/reliability/crash.test.ts (small, in CI) and bench/crash.ts
 * (bigger): a server child process on one data dir, concurrent writers, SIGKILLs at seeded moments with
 * a restart after each, then every check of crash-verify.ts over HTTP, on disk and in the SQLite rows.
 */

export interface ScenarioOptions extends WorkloadOptions {
  kills: number;
  /** Acknowledged requests before each kill, inclusive range (drawn from the seed). */
  acksPerKill: [number, number];
  /** Kinds of kill, in turn: kill i is kinds[i % kinds.length]. */
  killKinds: KillPlan['kind'][];
  log: (line: string) => void;
}

export interface ScenarioReport {
  kills: KillRecord[];
  ops: number;
  tally: Record<Op['kind'], Tally>;
  /** Metric points found over HTTP (and, the same, in the rows). */
  points: number;
  integrity: string;
  violations: string[];
}

export function planKills(opts: Pick<ScenarioOptions, 'seed' | 'kills' | 'acksPerKill' | 'killKinds'>): KillPlan[] {
  const rng = prng(opts.seed);
  const [lo, hi] = opts.acksPerKill;
  let lost = 0;
  return Array.from({ length: opts.kills }, (_, i) => {
    const kind = opts.killKinds[i % opts.killKinds.length];
    const afterAcks = lo + Math.floor(rng() * (hi - lo + 1));
    // Lost answers alternate between a keyed batch and any other request.
    return kind === 'answer-lost' ? { kind, afterAcks, keyed: lost++ % 2 === 0 } : { kind, afterAcks };
  });
}

export async function runCrashScenario(opts: ScenarioOptions): Promise<ScenarioReport> {
  const dataDir = tempDir();
  const cluster = new CrashCluster(dataDir, planKills(opts), opts.log);
  await cluster.start();
  const ledger = await createLedger(cluster.current!.url, opts);
  await runWriters(cluster, ledger, opts);
  const violations = ledger.ops.filter((o) => o.outcome === 'refused').map((o) => `${o.kind} ${o.id} was refused: ${o.detail}`);

  const url = cluster.current!.url;
  const http: Verdict[] = [];
  for (const run of ledger.runs) http.push(checkRun(ledger, run, await readRunOverHttp(url, run), 'HTTP'));
  const artifacts = await checkArtifacts(url, dataDir, ledger);
  const exit = await cluster.stop();
  if (exit.code !== 0) violations.push(`the last server exited with ${exit.code ?? exit.signal} on SIGTERM`);

  const { integrity, rows } = readRows(path.join(dataDir, 'lablog.db'), ledger);
  const merged = merge([...http, artifacts]);
  const rowsMerged = merge(rows);
  if (JSON.stringify(rowsMerged.tally) !== JSON.stringify(merge(http).tally) || rowsMerged.points !== merged.points) {
    violations.push(`the rows and the HTTP API disagree: rows ${JSON.stringify(rowsMerged)} vs HTTP ${JSON.stringify(merge(http))}`);
  }
  violations.push(...cluster.violations, ...merged.violations, ...rowsMerged.violations);
  if (integrity !== 'ok') violations.push(`PRAGMA integrity_check: ${integrity}`);
  return { kills: cluster.kills, ops: ledger.ops.length, tally: merged.tally, points: merged.points, integrity, violations };
}

/** integrity_check, then each run checked from its rows, plus each series' stored count against its points. */
function readRows(file: string, ledger: Ledger): { integrity: string; rows: Verdict[] } {
  const db = new Database(file, { readonly: true });
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('\n');
    const rows = ledger.runs.map((run) => {
      const view = readRunFromRows(db, run);
      const verdict = checkRun(ledger, run, view, 'rows');
      for (const [key, count] of view.counts) {
        const n = view.points.get(key)?.length ?? 0;
        if (count !== n) verdict.violations.push(`rows, run ${run}: metric_series says ${count} ${key} points, ${n} are stored`);
      }
      return verdict;
    });
    return { integrity, rows };
  } finally {
    db.close();
  }
}

function merge(verdicts: Verdict[]): Verdict {
  const tally = emptyTallies();
  for (const v of verdicts) {
    for (const kind of Object.keys(tally) as Op['kind'][]) {
      for (const k of Object.keys(tally[kind]) as (keyof Tally)[]) tally[kind][k] += v.tally[kind][k];
    }
  }
  return { violations: verdicts.flatMap((v) => v.violations), tally, points: verdicts.reduce((n, v) => n + v.points, 0) };
}

/** One line per kind of operation, for logs and the bench. */
export function describeTally(tally: Record<Op['kind'], Tally>): string[] {
  return (Object.keys(tally) as Op['kind'][]).map((kind) => {
    const t = tally[kind];
    const extra = kind === 'batch' ? `, ${t.retried} retried with their Idempotency-Key (${t.replayed} answered as replays)` : '';
    return `${kind}: ${t.acked} acknowledged and present; unacknowledged: ${t.unknownWhole} whole, ${t.unknownAbsent} absent${extra}`;
  });
}
