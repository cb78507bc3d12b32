import path from 'node:path';
import { pino } from 'pino';
import { createLocalArtifactStore } from './artifacts/local.js';
import { buildApp } from './app.js';
import { ensureFirstAdmin } from './auth/bootstrap.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openSqliteStore } from './store/sqlite/index.js';

/** Starts the server and wires signals for a graceful stop; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = pino({ level: config.logLevel });
  const store = openSqliteStore(config.dataDir, { backgroundCheckpoints: true });
  const artifacts = createLocalArtifactStore(path.join(config.dataDir, 'artifacts'));
  if (config.auth) {
    const admin = await ensureFirstAdmin(store, config.adminUsername, config.adminPassword, Date.now());
    if (admin.created) logger.info({ username: config.adminUsername }, 'created the first admin');
    // Shown once, on the terminal only: the log never holds a secret.
    if (admin.generated) process.stderr.write(`\nlablog: first admin '${config.adminUsername}' created with password: ${admin.generated}\n        (shown once; change it with 'lablog users update ${config.adminUsername} --password ...')\n\n`);
  }
  const app = await buildApp({ config, store, artifacts, logger });
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    try {
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
  logger.info({ address, dataDir: config.dataDir, auth: config.auth ? 'on' : 'off' }, 'lablog listening');
  return { app, store, address };
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
