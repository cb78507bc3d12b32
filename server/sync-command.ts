import { existsSync, statSync } from 'node:fs';
import { syncSpools, SyncError, type SyncReport } from 'lablog-client/node';

export const SYNC_USAGE = `  sync [dir] [--url U] [--json]
         replay the SDK's offline spool files (default dir ./lablog-spool) into a server, exactly once:
         runs started offline are created under their own ids (their experiments too, when missing);
         --url defaults to LABLOG_TRACKING_URI, then MLFLOW_TRACKING_URI, then http://127.0.0.1:5000;
         token from LABLOG_TRACKING_TOKEN / MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME/PASSWORD);
         --json prints the report as one JSON line
`;

export interface SyncArgs {
  dir: string;
  url: string;
  json: boolean;
  help: boolean;
}

export class SyncArgsError extends Error {}

export function parseSyncArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SyncArgs {
  let dir: string | undefined;
  let url: string | undefined;
  let help = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--json') json = true;
    else if (arg === '--url' || arg.startsWith('--url=')) {
      url = arg === '--url' ? argv[++i] : arg.slice('--url='.length);
      if (!url || url.startsWith('--')) throw new SyncArgsError(`option '--url' needs a value`);
    } else if (arg.startsWith('-')) throw new SyncArgsError(`unknown option '${arg}' (known: --url, --json)`);
    else if (dir === undefined) dir = arg;
    else throw new SyncArgsError(`one spool directory only (got '${dir}' and '${arg}')`);
  }
  url ??= env.LABLOG_TRACKING_URI || env.MLFLOW_TRACKING_URI || 'http://127.0.0.1:5000';
  if (!/^https?:\/\//.test(url)) throw new SyncArgsError(`--url: '${url}' is not an http(s) URL`);
  return { dir: dir ?? './lablog-spool', url, json, help };
}

/** The auth header the SDK would send, from the same environment variables. */
export function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const token = env.LABLOG_TRACKING_TOKEN || env.MLFLOW_TRACKING_TOKEN;
  if (token) return { authorization: `Bearer ${token}` };
  if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD) {
    const basic = Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}

const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function formatSyncReport(r: SyncReport): string {
  const parts = [
    `${plural(r.files, 'spool file')}`,
    `${plural(r.batches, 'batch', 'batches')} (${plural(r.points, 'point')}) written`,
    `${plural(r.replayed, 'batch', 'batches')} already on the server`,
  ];
  if (r.runs) parts.push(`${plural(r.runs, 'offline run')} created`);
  if (r.artifacts) parts.push(`${plural(r.artifacts, 'artifact')} uploaded`);
  if (r.updates) parts.push(`${plural(r.updates, 'run status', 'run statuses')} set`);
  if (r.rejected) parts.push(`${r.rejected} rejected`);
  if (r.skippedLines) parts.push(`${plural(r.skippedLines, 'unreadable line')} skipped`);
  if (r.keptFiles) parts.push(`${plural(r.keptFiles, 'file')} kept for later`);
  return `synced ${parts.join(', ')}`;
}

export function renderSyncProgress(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.floor((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} entries`;
}

/** `lablog sync [dir] [--url U]`: 0 when everything was delivered, 1 when not, 2 for bad arguments. */
export async function syncCommand(argv: string[]): Promise<number> {
  let args: SyncArgs;
  try {
    args = parseSyncArgs(argv);
  } catch (err) {
    if (!(err instanceof SyncArgsError)) throw err;
    process.stderr.write(`lablog sync: ${err.message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`usage: lablog sync [dir] [options]\n\n${SYNC_USAGE}`);
    return 0;
  }
  if (existsSync(args.dir) && !statSync(args.dir).isDirectory()) {
    process.stderr.write(`lablog sync: '${args.dir}' is not a directory\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let drawn = false;
  const onProgress = (done: number, total: number) => {
    if (!tty) return;
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    drawn = true;
    process.stderr.write(`${renderSyncProgress(done, total)}\x1b[K`);
  };
  const clear = () => {
    if (drawn) process.stderr.write('\r\x1b[K');
  };
  const print = (report: SyncReport) => process.stdout.write(`${args.json ? JSON.stringify(report) : formatSyncReport(report)}\n`);
  try {
    const report = await syncSpools(args.dir, { url: args.url, headers: authHeaders(), onProgress });
    clear();
    for (const e of report.errors ?? []) process.stderr.write(`lablog sync: ${e}\n`);
    print(report);
    return (report.errors?.length ?? 0) > 0 ? 1 : 0;
  } catch (err) {
    clear();
    if (err instanceof SyncError) {
      print(err.report);
      process.stderr.write(`lablog sync: ${err.message}; run it again to go on (nothing is sent twice)\n`);
      return 1;
    }
    process.stderr.write(`lablog sync: ${(err as Error).message}\n`);
    return 1;
  }
}
