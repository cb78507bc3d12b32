import { openArtifactStore } from './artifacts/open.js';
import { missingData, openCommandStore } from './commands/open-store.js';
import { ConfigError, resolveArtifactsUri, resolveDatabaseUrl, resolveDataDir } from './config.js';
import { LablogError } from './errors.js';
import { executeGc, planGc, type GcPlan, type GcProgress, type GcReport } from './tracking/gc.service.js';

export const GC_USAGE = `  gc [--older-than 7d] [--experiment-ids 1,2] [--run-ids a,b] [--dry-run] [--data-dir D]
         [--database-url URL] [--artifacts-uri s3://bucket/prefix]
         permanently remove deleted runs (rows and artifact folders) and deleted experiments;
         with no ids, everything deleted (at least --older-than ago, e.g. 1d2h3m4s) goes;
         named ids must be deleted; --dry-run only prints what would be removed;
         the rows are in --database-url (env LABLOG_DATABASE_URL) when lablog runs on PostgreSQL,
         the artifacts in --artifacts-uri (env LABLOG_ARTIFACTS_URI) when they are on S3
`;

export interface GcArgs {
  olderThanMs: number | null;
  experimentIds: string[];
  runIds: string[];
  dryRun: boolean;
  dataDir: string | undefined;
  databaseUrl: string | undefined;
  artifactsUri: string | undefined;
  help: boolean;
}

const VALUE_OPTIONS = ['--older-than', '--experiment-ids', '--run-ids', '--data-dir', '--database-url', '--artifacts-uri'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

/** `--flag value` and `--flag=value`; anything unknown, valueless or malformed is a ConfigError. */
export function parseGcArgs(argv: string[]): GcArgs {
  const out: GcArgs = { olderThanMs: null, experimentIds: [], runIds: [], dryRun: false, dataDir: undefined, databaseUrl: undefined, artifactsUri: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--dry-run' || flag === '-h' || flag === '--help') {
      if (eq > 0) throw new ConfigError(`option '${flag}' takes no value`);
      if (flag === '--dry-run') out.dryRun = true;
      else out.help = true;
      continue;
    }
    if (!(VALUE_OPTIONS as readonly string[]).includes(flag)) {
      throw new ConfigError(`unknown option '${flag}' (known: ${[...VALUE_OPTIONS, '--dry-run'].join(', ')})`);
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new ConfigError(`option '${flag}' needs a value`);
    switch (flag as ValueOption) {
      case '--older-than':
        out.olderThanMs = parseOlderThan(value);
        break;
      case '--experiment-ids':
        for (const id of idList(flag, value)) {
          if (!/^\d{1,15}$/.test(id)) throw new ConfigError(`--experiment-ids: '${id}' is not an experiment id (a number)`);
          out.experimentIds.push(id);
        }
        break;
      case '--run-ids':
        out.runIds.push(...idList(flag, value));
        break;
      case '--data-dir':
        out.dataDir = value;
        break;
      case '--database-url':
        out.databaseUrl = value;
        break;
      case '--artifacts-uri':
        out.artifactsUri = value;
        break;
    }
  }
  out.experimentIds = [...new Set(out.experimentIds)];
  out.runIds = [...new Set(out.runIds)];
  return out;
}

/** MLflow's notation: days, hours, minutes, seconds in that order, each optional, decimals allowed. */
export function parseOlderThan(text: string): number {
  const m = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
  if (!m || text === '') {
    throw new ConfigError(`--older-than: could not read '${text}' as a duration (examples: 7d, 8h, 2d8h5m20s, 90s)`);
  }
  const [d, h, min, s] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v)));
  return Math.round((((d * 24 + h) * 60 + min) * 60 + s) * 1000);
}

function idList(flag: string, value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 0) throw new ConfigError(`option '${flag}' needs at least one id`);
  return ids;
}

/** 1258291 -> "1258291 bytes (1.2 MiB)": exact for scripts, readable for people. */
export function formatBytes(n: number): string {
  const exact = `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  if (n < 1024) return exact;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${exact} (${v.toFixed(1)} ${units[u]})`;
}

export function renderProgress(p: GcProgress, width = 30): string {
  const filled = p.total === 0 ? width : Math.floor((p.done / p.total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${p.phase}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The report as printed: one line per run and experiment, then the summary. Failures go to `err`. */
export function formatReport(r: GcReport): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const freed = r.dryRun ? 'would be freed' : 'freed';
  const line = (what: string, status: string, bytes: number, note?: string) => {
    if (status === 'failed') err.push(`failed to remove ${what}: ${note}`);
    else if (status === 'kept') out.push(`kept ${what}: ${note}`);
    else out.push(`${status === 'removed' ? 'removed' : 'would remove'} ${what}, ${formatBytes(bytes)} ${freed}${note ? ` (${note})` : ''}`);
  };
  for (const run of r.runs) line(`run ${run.id} (experiment ${run.experimentId})`, run.status, run.bytes, run.note);
  for (const e of r.experiments) line(`experiment ${e.id} (${plural(e.runs, 'run')})`, e.status, e.bytes, e.note);
  const done = r.dryRun ? 'would-remove' : 'removed';
  const runs = r.runs.filter((x) => x.status === done).length;
  const exps = r.experiments.filter((x) => x.status === done).length;
  out.push(
    `${plural(runs, 'run')}, ${plural(exps, 'experiment')} ${r.dryRun ? 'would be removed' : 'removed'}, ${formatBytes(r.bytes)} ${freed}` +
      (r.dryRun ? ' (dry run: nothing was changed)' : ''),
  );
  if (r.failed > 0) err.push(`${plural(r.failed, 'item')} could not be removed (see above)`);
  return { out, err };
}

/** `lablog gc ...`: exit 0 when all went, 1 when something failed, 2 for bad arguments. */
export async function gcCommand(argv: string[]): Promise<number> {
  let args: GcArgs;
  let dataDir: string;
  let databaseUrl: string | undefined;
  let artifactsUri: string | undefined;
  try {
    args = parseGcArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: lablog gc [options]\n\n${GC_USAGE}`);
      return 0;
    }
    dataDir = resolveDataDir(args.dataDir);
    databaseUrl = resolveDatabaseUrl(args.databaseUrl);
    artifactsUri = resolveArtifactsUri(args.artifactsUri);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`lablog gc: ${err.message}\n`);
    return 2;
  }
  const missing = missingData(dataDir, databaseUrl);
  if (missing) {
    process.stderr.write(`lablog gc: ${missing}\n`);
    return 2;
  }
  let store: Awaited<ReturnType<typeof openCommandStore>>;
  try {
    store = await openCommandStore(dataDir, databaseUrl);
  } catch (err) {
    process.stderr.write(`lablog gc: cannot open the database: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const artifacts = (await openArtifactStore(artifactsUri, dataDir)).store;
    const request = { olderThanMs: args.olderThanMs, experimentIds: args.experimentIds, runIds: args.runIds, dryRun: args.dryRun, now: Date.now() };
    let plan: GcPlan;
    try {
      plan = await planGc(store, request);
    } catch (err) {
      if (!(err instanceof LablogError)) throw err;
      process.stderr.write(`lablog gc: nothing was removed:\n  ${err.message.split('\n').join('\n  ')}\n`);
      return 2;
    }
    const bar = progressBar();
    const report = await executeGc({ store, artifacts }, plan, { dryRun: args.dryRun, onProgress: bar.update });
    bar.clear();
    const { out, err } = formatReport(report);
    if (err.length > 0) process.stderr.write(err.map((l) => `lablog gc: ${l}\n`).join(''));
    process.stdout.write(out.map((l) => `${l}\n`).join(''));
    return report.failed > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`lablog gc: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

/** Redrawn in place on a terminal, at most every 100 ms and at the end of each phase; silent otherwise. */
function progressBar() {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update: (p: GcProgress) => {
      if (!tty) return;
      const now = Date.now();
      if (p.done < p.total && now - last < 100) return;
      last = now;
      drawn = true;
      process.stderr.write(`${renderProgress(p)}\x1b[K`);
    },
    clear: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
