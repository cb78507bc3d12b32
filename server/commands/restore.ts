import path from 'node:path';
import { BackupError, restoreBackup } from '../backup/backup.service.js';
import { ConfigError, refuseOnPostgres } from '../config.js';
import { scanArgs, usageFailure } from './args.js';
import { progressLine, renderBar } from './progress.js';

export const RESTORE_USAGE = `  restore <file> --data-dir D
         restore a backup into D, which must be empty or missing (LABLOG_DATA_DIR may name it); the
         database is checked with PRAGMA integrity_check before anything is moved into place
`;

export interface RestoreArgs {
  file: string;
  dataDir: string;
  help: boolean;
}

export function parseRestoreArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RestoreArgs {
  let file: string | undefined;
  let dataDir: string | undefined;
  let help = false;
  scanArgs(argv, ({ flag, raw: arg, value }) => {
    if (flag === '-h' || flag === '--help') help = true;
    else if (flag === '--data-dir') dataDir = value();
    else if (arg.startsWith('-')) throw new ConfigError(`unknown option '${flag}' (known: --data-dir)`);
    else if (file === undefined) file = arg;
    else throw new ConfigError(`one backup file only (got '${file}' and '${arg}')`);
  });
  if (help) return { file: file ?? '', dataDir: dataDir ?? '', help };
  if (file === undefined) throw new ConfigError('name the backup file to restore');
  // No silent default (./lablog-data): the target is named on purpose.
  dataDir ??= env.LABLOG_DATA_DIR || undefined;
  if (dataDir === undefined) throw new ConfigError('name the directory to restore into with --data-dir (or LABLOG_DATA_DIR)');
  return { file, dataDir: path.resolve(dataDir), help };
}

/** `lablog restore ...`: exit 0 when restored and verified, 1 when the archive is bad, 2 for bad arguments or a non-empty target. */
export async function restoreCommand(argv: string[]): Promise<number> {
  let args: RestoreArgs;
  try {
    args = parseRestoreArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: lablog restore <file> --data-dir D\n\n${RESTORE_USAGE}`);
      return 0;
    }
    refuseOnPostgres('restore');
  } catch (err) {
    return usageFailure('restore', RESTORE_USAGE, err);
  }
  const bar = progressLine();
  const started = performance.now();
  try {
    const { manifest: m } = await restoreBackup({
      file: args.file,
      dataDir: args.dataDir,
      onProgress: (p) => {
        if (p.phase === 'extract') bar.update(renderBar(p.done, p.total, `extracting (${(p.done / 1048576).toFixed(0)} of ${(p.total / 1048576).toFixed(0)} MiB)`), p.done === p.total);
        else bar.update(renderBar(p.done, p.total, 'PRAGMA integrity_check'), true);
      },
    });
    bar.clear();
    const seconds = (performance.now() - started) / 1000;
    const arts = m.artifacts ? `${m.artifactFiles} artifact file${m.artifactFiles === 1 ? '' : 's'} (${m.artifactBytes} bytes)` : 'no artifacts (backup made with --no-artifacts)';
    process.stdout.write(
      `restored ${path.resolve(args.file)} into ${args.dataDir}: database (${m.dbBytes} bytes, integrity ok, ${m.migrations} migrations) and ${arts}, ` +
        `from lablog ${m.lablogVersion} at ${m.createdAt}, in ${seconds.toFixed(1)} s\n`,
    );
    return 0;
  } catch (err) {
    bar.clear();
    const tail = err instanceof BackupError && err.kind === 'usage' ? ' (nothing was written)' : `; '${args.dataDir}' was left as it was found`;
    process.stderr.write(`lablog restore: ${(err as Error).message}${tail}\n`);
    return err instanceof BackupError && err.kind === 'usage' ? 2 : 1;
  }
}
