import { pino } from 'pino';
import { openArtifactStore } from './artifacts/open.js';
import { buildApp } from './app.js';
import { ensureFirstAdmin } from './auth/bootstrap.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createStorageHealth } from './storage/health.js';
import { probeWritable } from './storage/probe.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { TrackingStore } from './store/types.js';

/** Probe answers that no freed space cures: the database is then opened read-only from the start. */
const REFUSES_FOR_GOOD = new Set(['EROFS', 'EACCES', 'EPERM']);

/** Starts the server and wires signals for a graceful stop; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = pino({ level: config.logLevel });
  // A data directory that refuses writes for good (a read-only mount, another owner) is opened
  // read-only; on a full disk the usual open is tried first, so writes resume once space returns.
  const atStart = await probeWritable(config.dataDir, 'the data directory');
  const readOnly = !atStart.writable && REFUSES_FOR_GOOD.has(atStart.code ?? '') ? atStart.reason : undefined;
  const store: TrackingStore & { readOnlyBecause?: string | null } = config.databaseUrl
    ? // pg and its schema are loaded only for a database URL: one person's server starts without them.
      await (await import('./store/postgres/index.js')).openPostgresStore(config.databaseUrl, {
        onAuthListener: (s) =>
          s.listening
            ? logger.info('listening for auth changes made through other servers')
            : logger.warn(
                { err: s.error },
                'lost the connection that listens for auth changes made through other servers; credentials and permissions are read from the database on every request until it reconnects',
              ),
      })
    : openSqliteStore(config.dataDir, { readOnly, readOnlyFallback: true, backgroundCheckpoints: true });
  const opened = await openArtifactStore(config.artifactsUri, config.dataDir);
  const artifacts = opened.store;
  if (!readOnly) {
    const stale = await opened.removeStale().catch(() => ({ files: 0, bytes: 0 }));
    if (stale.files > 0) logger.info(stale, 'removed the staging files of uploads an earlier process left unfinished');
  }
  const storage = createStorageHealth({
    places: [
      { dir: config.dataDir, where: 'the data directory' },
      opened.place,
    ],
    readOnlyBecause: store.readOnlyBecause,
    logger,
  });
  const storageAtStart = await storage.start();
  if (config.auth) {
    const admin = await ensureFirstAdmin(store, config.adminUsername, config.adminPassword, Date.now());
    if (admin.created) logger.info({ username: config.adminUsername }, 'created the first admin');
    // Shown once, on the terminal only: the log never holds a secret.
    if (admin.generated) process.stderr.write(`\nlablog: first admin '${config.adminUsername}' created with password: ${admin.generated}\n        (shown once; change it with 'lablog users update ${config.adminUsername} --password ...')\n\n`);
  }
  const app = await buildApp({ config, store, artifacts, logger, storage });
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    try {
      storage.stop();
      await app.close();
      await store.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const address = await app.listen({ host: config.host, port: config.port });
  // The database URL's password never reaches the log.
  const database = config.databaseUrl ? `postgres ${redactUrl(config.databaseUrl)}` : 'sqlite';
  logger.info({ address, dataDir: config.dataDir, database, artifacts: opened.describe, auth: config.auth ? 'on' : 'off', storage: storageAtStart.writable ? 'writable' : 'not writable' }, 'lablog listening');
  return { app, store, address };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export async function serverCommand(argv: string[]): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`lablog: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  try {
    await startServer(config);
  } catch (err) {
    console.error(`lablog: could not start: ${(err as Error).message}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serverCommand(process.argv.slice(2));
}
