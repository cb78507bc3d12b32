import { mkdirSync } from 'node:fs';
import { openArtifactStore } from '../artifacts/open.js';
import { ConfigError, resolveArtifactsUri, resolveDatabaseUrl, resolveDataDir } from '../config.js';
import { formatBytes } from '../gc-command.js';
import { ImportScopeError } from '../import/experiments.phase.js';
import { importFromMlflow, verifyFromMlflow } from '../import/import.service.js';
import type { Count, ImportProgress, ImportSummary, Phase } from '../import/import.types.js';
import { createSourceClient, sourceAuthHeaders, SourceError } from '../import/source.client.js';
import { scanArgs, usageFailure } from './args.js';
import { openCommandStore } from './open-store.js';
import { progressLine, renderBar } from './progress.js';

export const IMPORT_MLFLOW_USAGE = `  import-mlflow --from URL [--experiments NAME...] [--since DATE] [--verify] [--data-dir D]
         [--database-url URL]
         copy an MLflow server (>= 2.0, through its REST API) into the data dir, also while lablog runs:
         experiments, runs with their ids, params, tags, every metric point, datasets, artifacts,
         registered models with their versions (same numbers), stages, aliases and tags;
         run it again to resume or to pick up new runs (nothing is duplicated); --verify compares
         both sides run by run (counts and checksums) and exits 1 on any difference;
         source credentials from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/_PASSWORD;
         into --database-url (env LABLOG_DATABASE_URL) when lablog runs on PostgreSQL
`;

export interface ImportArgs {
  from: string;
  experiments: string[];
  since: number | null;
  verify: boolean;
  dataDir: string | undefined;
  databaseUrl: string | undefined;
  concurrency: number;
  help: boolean;
}

function parseSince(value: string): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new ConfigError(`--since: '${value}' is not a date (e.g. 2024-06-01 or 2024-06-01T12:00:00Z)`);
  return t;
}

export function parseImportArgs(argv: string[]): ImportArgs {
  const args: ImportArgs = { from: '', experiments: [], since: null, verify: false, dataDir: undefined, databaseUrl: undefined, concurrency: 4, help: false };
  let collecting = false;
  scanArgs(argv, ({ flag, raw, inline, value }) => {
    if (!raw.startsWith('-') && collecting) {
      args.experiments.push(raw);
      return;
    }
    collecting = false;
    if (flag === '-h' || flag === '--help') args.help = true;
    else if (flag === '--from') args.from = value();
    else if (flag === '--data-dir') args.dataDir = value();
    else if (flag === '--database-url') args.databaseUrl = value();
    else if (flag === '--since') args.since = parseSince(value());
    else if (flag === '--verify') {
      if (inline) throw new ConfigError(`option '--verify' takes no value`);
      args.verify = true;
    } else if (flag === '--concurrency') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 32) throw new ConfigError('--concurrency must be a whole number from 1 to 32');
      args.concurrency = n;
    } else if (flag === '--experiments') {
      // `--experiments A B C` takes names up to the next option; `--experiments=A` one name.
      if (inline) args.experiments.push(value());
      else collecting = true;
    } else throw new ConfigError(`unknown option '${flag}' (known: --from, --experiments, --since, --verify, --data-dir, --database-url, --concurrency)`);
  });
  if (args.help) return args;
  if (!args.from) throw new ConfigError('name the MLflow server with --from, e.g. --from http://old-mlflow:5000');
  if (!/^https?:\/\/[^/]+/.test(args.from)) throw new ConfigError(`--from: '${args.from}' is not an http(s) URL`);
  if (collecting && args.experiments.length === 0) throw new ConfigError(`option '--experiments' needs at least one name`);
  return args;
}

const LABELS: Record<Phase, string> = {
  experiments: 'experiments',
  runs: 'runs (params, tags, datasets)',
  metrics: 'metric histories',
  artifacts: 'artifacts',
  registry: 'registered models',
  verify: 'verifying runs',
};

/** One progress bar per phase: a finished phase's bar stays on its own line (on a terminal). */
function phaseBars() {
  const bar = progressLine();
  const tty = process.stderr.isTTY === true;
  let current: Phase | null = null;
  let lastText = '';
  return {
    update(p: ImportProgress) {
      if (current !== null && p.phase !== current && tty && lastText) {
        bar.update(lastText, true);
        process.stderr.write('\n');
      }
      current = p.phase;
      const label = `${LABELS[p.phase]}${p.total > 0 ? ` ${p.done}/${p.total}` : ''}${p.detail ? ` - ${p.detail}` : ''}`;
      // Before the total is known (runs being listed) the detail alone says how far it got.
      lastText = p.total > 0 ? renderBar(p.done, p.total, label) : label;
      bar.update(lastText, p.total > 0 && p.done === p.total);
    },
    finish() {
      if (tty && lastText) {
        bar.update(lastText, true);
        process.stderr.write('\n');
      }
    },
  };
}

const line = (what: string, c: Count, fmt: (n: number) => string = String) => `  ${what.padEnd(16)}${fmt(c.created).padStart(14)} copied, ${fmt(c.present)} already present`;

export function formatImportSummary(s: ImportSummary, from: string, seconds: number): string {
  return [
    `imported ${from} in ${seconds.toFixed(1)} s`,
    line('experiments', s.experiments),
    line('runs', s.runs),
    line('params', s.params),
    line('tags', s.tags),
    line('metric points', s.metricPoints),
    line('dataset inputs', s.datasets),
    line('artifact files', s.artifactFiles),
    line('artifact bytes', s.artifactBytes, formatBytes),
    line('models', s.models),
    line('model versions', s.modelVersions),
    line('model aliases', s.aliases),
    ...(s.warnings.length > 0 ? [`${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'} (run the import again once fixed):`, ...s.warnings.map((w) => `  ${w}`)] : []),
  ].join('\n');
}

/** `lablog import-mlflow ...`: 0 when everything was copied (or verified equal), 1 otherwise, 2 for bad arguments. */
export async function importMlflowCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: ImportArgs;
  let dataDir: string;
  let databaseUrl: string | undefined;
  let artifactsUri: string | undefined;
  try {
    args = parseImportArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: lablog import-mlflow --from URL [options]\n\n${IMPORT_MLFLOW_USAGE}`);
      return 0;
    }
    dataDir = resolveDataDir(args.dataDir);
    databaseUrl = resolveDatabaseUrl(args.databaseUrl, env);
    // Artifacts go where the server will look for them.
    artifactsUri = resolveArtifactsUri(undefined, env);
  } catch (err) {
    return usageFailure('import-mlflow', IMPORT_MLFLOW_USAGE, err);
  }
  mkdirSync(dataDir, { recursive: true });
  let store: Awaited<ReturnType<typeof openCommandStore>>;
  try {
    store = await openCommandStore(dataDir, databaseUrl);
  } catch (err) {
    process.stderr.write(`lablog import-mlflow: cannot open the database: ${(err as Error).message}\n`);
    return 1;
  }
  const artifacts = (await openArtifactStore(artifactsUri, dataDir, env)).store;
  const source = createSourceClient({ url: args.from, headers: sourceAuthHeaders(env) });
  const bars = phaseBars();
  const options = {
    experiments: args.experiments,
    since: args.since,
    concurrency: args.concurrency,
    onProgress: (p: ImportProgress) => bars.update(p),
  };
  const started = performance.now();
  try {
    if (args.verify) {
      const r = await verifyFromMlflow({ source, store, artifacts }, options);
      bars.finish();
      const what = `${r.experiments} experiments, ${r.runs} runs, ${r.metricPoints} metric points, ${r.artifactFiles} artifact files, ${r.models} models (${r.modelVersions} versions)`;
      if (r.mismatches.length === 0) {
        process.stdout.write(`verified ${what} against ${source.url}: no difference\n`);
        return 0;
      }
      for (const m of r.mismatches) process.stdout.write(`MISMATCH ${m.subject}: ${m.what}\n`);
      process.stdout.write(`verified ${what} against ${source.url}: ${r.mismatches.length} difference${r.mismatches.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    const summary = await importFromMlflow({ source, store, artifacts }, options);
    bars.finish();
    process.stdout.write(`${formatImportSummary(summary, source.url, (performance.now() - started) / 1000)}\n`);
    return summary.warnings.length === 0 ? 0 : 1;
  } catch (err) {
    bars.finish();
    const known = err instanceof SourceError || err instanceof ImportScopeError;
    process.stderr.write(`lablog import-mlflow: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n(what was copied so far is kept; run the same command again to continue)\n`);
    return 1;
  } finally {
    await store.close();
  }
}
