import { existsSync } from 'node:fs';
import path from 'node:path';
import { openArtifactStore } from '../artifacts/open.js';
import { parseS3Uri } from '../artifacts/s3-uri.js';
import { ConfigError } from '../config.js';
import { copyArtifacts, type ArtifactCopy } from '../migrate-store/artifacts.js';
import { verifyRuns } from '../migrate-store/verify.js';
import { advanceSequences, beginCopy, copyTable, finishCopy, MigrateStoreError, openSourceSnapshot, sourceCounts, targetCounts } from '../store/migrate/copy.js';
import { copyPlan } from '../store/migrate/tables.js';
import { createPool, isPostgresUrl, migratePostgres } from '../store/postgres/db.js';
import { openPostgresStore } from '../store/postgres/index.js';
import { DB_FILE, openSqliteStore } from '../store/sqlite/index.js';
import { formatBytes } from '../gc-command.js';
import { scanArgs, usageFailure } from './args.js';
import { progressLine, renderBar } from './progress.js';

export const MIGRATE_STORE_USAGE = `  migrate-store --from <data dir> --to postgres://user:pass@host:5432/db [--artifacts-to s3://bucket/prefix] [--restart]
         copy a SQLite data dir's tracking data (experiments, runs, params, tags, metrics, datasets,
         sweeps, users, tokens, permissions, the registry) into an empty PostgreSQL database, then
         verify row counts per table and a checksum per run; stop the server on the data dir first.
         Interrupted, the same command resumes where it stopped; --restart empties the target and
         starts over. --artifacts-to also copies <data dir>/artifacts into S3-compatible storage
         (endpoint and credentials from the AWS_* variables; files already there are skipped)
`;

export interface MigrateArgs {
  from: string;
  to: string;
  artifactsTo: string | undefined;
  restart: boolean;
  help: boolean;
}

export function parseMigrateArgs(argv: string[]): MigrateArgs {
  const args: MigrateArgs = { from: '', to: '', artifactsTo: undefined, restart: false, help: false };
  scanArgs(argv, ({ flag, inline, value }) => {
    if (flag === '-h' || flag === '--help') args.help = true;
    else if (flag === '--from') args.from = value();
    else if (flag === '--to') args.to = value();
    else if (flag === '--artifacts-to') args.artifactsTo = value();
    else if (flag === '--restart') {
      if (inline) throw new ConfigError(`option '--restart' takes no value`);
      args.restart = true;
    } else throw new ConfigError(`unknown option '${flag}' (known: --from, --to, --artifacts-to, --restart)`);
  });
  if (args.help) return args;
  if (!args.from) throw new ConfigError('name the SQLite data dir to copy with --from, e.g. --from ./lablog-data');
  if (!args.to) throw new ConfigError('name the PostgreSQL database with --to, e.g. --to postgres://lablog:secret@db:5432/lablog');
  if (!isPostgresUrl(args.to)) throw new ConfigError(`--to: '${redact(args.to)}' is not a postgres:// URL`);
  if (args.artifactsTo !== undefined) {
    if (parseS3Uri(args.artifactsTo) === null) throw new ConfigError(`--artifacts-to: '${args.artifactsTo}' is not an s3://bucket/prefix URI`);
  }
  if (!existsSync(path.join(args.from, DB_FILE))) throw new ConfigError(`--from: there is no ${DB_FILE} in '${args.from}'`);
  return args;
}

/** The URL as it may be printed: without its password. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** `lablog migrate-store ...`: 0 when everything was copied and verified equal, 1 otherwise, 2 for bad arguments. */
export async function migrateStoreCommand(argv: string[]): Promise<number> {
  let args: MigrateArgs;
  try {
    args = parseMigrateArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: lablog migrate-store --from DIR --to URL [--restart]\n\n${MIGRATE_STORE_USAGE}`);
      return 0;
    }
  } catch (err) {
    return usageFailure('migrate-store', MIGRATE_STORE_USAGE, err);
  }
  const source = openSourceSnapshot(args.from, DB_FILE);
  const db = source.db;
  const pool = createPool(args.to, 4);
  const bar = progressLine();
  const started = performance.now();
  try {
    await migratePostgres(pool);
    const plan = copyPlan();
    const counts = sourceCounts(db, plan);
    const resumed = await beginCopy(pool, plan, counts, args.restart);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    let before = [...resumed.values()].reduce((a, b) => a + b, 0);
    if (before > 0) process.stderr.write(`resuming: ${before} of ${total} rows were copied before\n`);
    for (const t of plan) {
      const label = (n: number) => `${t.name} ${n}/${counts.get(t.name)}`;
      const already = resumed.get(t.name) ?? 0;
      const copied = await copyTable(db, pool, t, already, (n) => bar.update(renderBar(before + n - already, total, label(n))));
      before += copied - already;
    }
    bar.clear();
    await advanceSequences(pool, plan);
    const copiedAt = performance.now();

    const problems: string[] = [];
    const after = await targetCounts(pool, plan);
    for (const t of plan) if (after.get(t.name) !== counts.get(t.name)) problems.push(`table ${t.name}: source ${counts.get(t.name)} rows, target ${after.get(t.name)}`);
    const runIds = source.runIds();
    const from = openSqliteStore(args.from, { readOnly: 'migrate-store only reads the source' });
    const to = await openPostgresStore(args.to, { poolSize: 2 });
    let verified;
    try {
      verified = await verifyRuns(from, to, runIds, (n) => bar.update(renderBar(n, runIds.length, `verifying runs ${n}/${runIds.length}`)));
    } finally {
      bar.clear();
      await from.close();
      await to.close();
    }
    for (const m of verified.mismatches) problems.push(`run ${m.runId}: ${m.what}`);
    let artifacts: ArtifactCopy | null = null;
    if (args.artifactsTo) {
      const from = (await openArtifactStore(undefined, args.from)).store;
      const to = (await openArtifactStore(args.artifactsTo, args.from)).store;
      artifacts = await copyArtifacts(from, to, (c) => bar.update(`artifacts: ${c.files} files, ${formatBytes(c.bytes)} (${c.skipped} already there)`));
      bar.clear();
      for (const m of artifacts.mismatches) problems.push(`artifact ${m}`);
    }
    const seconds = `${((copiedAt - started) / 1000).toFixed(1)} s (verified in ${((performance.now() - copiedAt) / 1000).toFixed(1)} s)`;
    if (problems.length > 0) {
      for (const p of problems) process.stdout.write(`MISMATCH ${p}\n`);
      process.stdout.write(`copied ${total} rows from ${args.from} to ${redact(args.to)} in ${seconds}: ${problems.length} difference${problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    await finishCopy(pool);
    process.stdout.write(
      `copied ${total} rows (${plan.length} tables, ${runIds.length} runs, ${verified.points} metric points) from ${args.from} to ${redact(args.to)} in ${seconds}; ` +
        "row counts and every run's checksum match" +
        (artifacts ? `; ${artifacts.files} artifact files (${formatBytes(artifacts.bytes)}, ${artifacts.skipped} already there) copied to ${args.artifactsTo}` : '') +
        '\n',
    );
    return 0;
  } catch (err) {
    bar.clear();
    const known = err instanceof MigrateStoreError;
    process.stderr.write(`lablog migrate-store: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    if (!known) process.stderr.write('(what was copied so far is kept; run the same command again to continue)\n');
    return 1;
  } finally {
    source.end();
    await pool.end();
  }
}
