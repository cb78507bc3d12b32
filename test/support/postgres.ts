/**
 * One throwaway PostgreSQL cluster per test process: initdb into a temp dir, pg_ctl start listening
 * only on a unix socket in that dir (no port to collide with another test process), a fresh database
 * per test, and pg_ctl stop + rm when the process exits. Where initdb/pg_ctl cannot be found (or the
 * cluster fails to start) `postgresSkip()` gives the reason and the PostgreSQL tests skip themselves.
 *
 * initdb refuses to run as root; as root (CI here) the cluster's files belong to `nobody` and its
 * commands run under setpriv as that user, while this process still connects through the socket.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const SUPERUSER = 'lablog';
const TEMPLATE = 'lablog_template';

interface Cluster {
  dir: string;
  socketDir: string;
  bin: string;
  runAs: string[];
}

let cluster: Cluster | null = null;
let skipReason: string | null = null;
let started = false;
let templateReady: Promise<void> | null = null;
let counter = 0;

/** The directory holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<v>/bin. */
function findBin(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

/** setpriv's arguments that drop to `nobody` when this process is root; none otherwise. */
function dropRoot(): { runAs: string[]; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return { runAs: [], uid: -1, gid: -1 };
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  try {
    const uid = id('-u');
    const gid = id('-g');
    return { runAs: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'], uid, gid };
  } catch {
    return null;
  }
}

function run(c: Cluster, tool: string, args: string[]): void {
  const [cmd, ...rest] = [...c.runAs, path.join(c.bin, tool), ...args];
  const r = spawnSync(cmd, rest, { encoding: 'utf8', cwd: c.dir, env: { ...process.env, LC_ALL: 'C' } });
  if (r.status !== 0) throw new Error(`${tool} failed (${r.status ?? r.signal ?? r.error?.message}): ${r.stderr || r.stdout}`);
}

function start(): void {
  started = true;
  const bin = findBin();
  if (bin === null) {
    skipReason = 'PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin)';
    return;
  }
  const user = dropRoot();
  if (user === null) {
    skipReason = 'running as root and there is no user "nobody" to run PostgreSQL as (initdb refuses root)';
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-pg-'));
  const c: Cluster = { dir, socketDir: dir, bin, runAs: user.runAs };
  try {
    if (user.uid >= 0) chownSync(dir, user.uid, user.gid);
    const data = path.join(dir, 'data');
    run(c, 'initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // No TCP at all, only the socket in our own dir; fsync off: a throwaway cluster needs no durability.
    const opts = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run(c, 'pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', opts, '-w', '-t', '60', 'start']);
    cluster = c;
    process.once('exit', () => {
      try {
        run(c, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped: nothing to do but remove its files.
      }
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    skipReason = `PostgreSQL could not be started: ${(err as Error).message.slice(0, 500)}`;
  }
}

/** Why the PostgreSQL tests cannot run here, or null when a cluster is up (starting it on first call). */
export function postgresSkip(): string | null {
  if (!started) start();
  return skipReason;
}

export function urlFor(database: string): string {
  if (postgresSkip() !== null || cluster === null) throw new Error(`no PostgreSQL: ${skipReason}`);
  return `postgres://${SUPERUSER}@localhost/${database}?host=${encodeURIComponent(cluster.socketDir)}`;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A new, empty database (no tables: for migration tests), or with `migrated` a copy of a template
 * that lablog's migrations already ran on, which is much cheaper than migrating each one.
 */
export async function createDatabase(opts: { migrated?: (url: string) => Promise<void> } = {}): Promise<string> {
  const name = `t${process.pid}_${++counter}`;
  if (opts.migrated) {
    templateReady ??= admin(async (c) => {
      await c.query(`CREATE DATABASE ${TEMPLATE} TEMPLATE template0`);
    }).then(() => opts.migrated!(urlFor(TEMPLATE)));
    await templateReady;
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`));
  } else {
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0`));
  }
  return urlFor(name);
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
