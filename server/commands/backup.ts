import path from 'node:path';
import { createBackup, BackupError, type BackupProgress } from '../backup/backup.service.js';
import { ConfigError, refuseOnPostgres, resolveDataDir } from '../config.js';
import { formatBytes } from '../gc-command.js';
import { scanArgs, usageFailure } from './args.js';
import { progressLine, renderBar } from './progress.js';

export const BACKUP_USAGE = `  backup <file> [--data-dir D] [--no-artifacts]
         write a consistent snapshot of the database and the artifacts into one tar file (gzipped when
         the name ends in .tar.gz or .tgz) while the server keeps running; --no-artifacts: database only
`;

export interface BackupArgs {
  file: string;
  dataDir: string | undefined;
  artifacts: boolean;
  help: boolean;
}

export function parseBackupArgs(argv: string[]): BackupArgs {
  let file: string | undefined;
  let dataDir: string | undefined;
  let artifacts = true;
  let help = false;
  scanArgs(argv, ({ flag, raw: arg, inline, value }) => {
    if (flag === '-h' || flag === '--help') help = true;
    else if (flag === '--no-artifacts') {
      if (inline) throw new ConfigError(`option '--no-artifacts' takes no value`);
      artifacts = false;
    } else if (flag === '--data-dir') dataDir = value();
    else if (arg.startsWith('-')) throw new ConfigError(`unknown option '${flag}' (known: --data-dir, --no-artifacts)`);
    else if (file === undefined) file = arg;
    else throw new ConfigError(`one backup file only (got '${file}' and '${arg}')`);
  });
  if (file === undefined && !help) throw new ConfigError('name the backup file, e.g. lablog backup lablog-2025-01-31.tar.gz');
  return { file: file ?? '', dataDir, artifacts, help };
}

const LABELS: Record<BackupProgress['phase'], string> = { database: 'copying the database', artifacts: 'listing artifacts', archive: 'writing the archive' };

/** `lablog backup ...`: exit 0 when the archive is written, 1 when it failed, 2 for bad arguments. */
export async function backupCommand(argv: string[]): Promise<number> {
  let args: BackupArgs;
  let dataDir: string;
  try {
    args = parseBackupArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: lablog backup <file> [options]\n\n${BACKUP_USAGE}`);
      return 0;
    }
    refuseOnPostgres('backup');
    dataDir = resolveDataDir(args.dataDir);
  } catch (err) {
    return usageFailure('backup', BACKUP_USAGE, err);
  }
  const bar = progressLine();
  const started = performance.now();
  try {
    const r = await createBackup({
      dataDir,
      file: args.file,
      artifacts: args.artifacts,
      onProgress: (p) => {
        const label = LABELS[p.phase];
        if (p.phase === 'archive') bar.update(renderBar(p.done, p.total, `${label} (${(p.done / 1048576).toFixed(0)} of ${(p.total / 1048576).toFixed(0)} MiB)`), p.done === p.total);
        else if (p.phase === 'artifacts') bar.update(`${label}: ${p.done} found`);
        else bar.update(renderBar(p.done, p.total, label), p.done === p.total);
      },
    });
    bar.clear();
    const seconds = (performance.now() - started) / 1000;
    const m = r.manifest;
    const what = m.artifacts ? `database (${formatBytes(m.dbBytes)}) and ${m.artifactFiles} artifact file${m.artifactFiles === 1 ? '' : 's'} (${formatBytes(m.artifactBytes)})` : `database (${formatBytes(m.dbBytes)}), no artifacts`;
    const gone = r.vanished > 0 ? `; ${r.vanished} artifact file${r.vanished === 1 ? '' : 's'} deleted meanwhile, left out` : '';
    process.stdout.write(`backup ${path.resolve(args.file)}: ${formatBytes(r.bytes)}, ${what}, in ${seconds.toFixed(1)} s${gone}\n`);
    return 0;
  } catch (err) {
    bar.clear();
    process.stderr.write(`lablog backup: ${(err as Error).message}${err instanceof BackupError ? '' : ' (nothing was written)'}\n`);
    return err instanceof BackupError && err.kind === 'usage' ? 2 : 1;
  }
}
