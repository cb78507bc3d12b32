import path from 'node:path';
import { pino } from 'pino';
import { createLocalArtifactStore } from './artifacts/local.js';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openSqliteStore } from './store/sqlite/index.js';

/** Starts the server and wires signals for a graceful stop; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = pino({ level: config.logLevel });
  const store = openSqliteStore(config.dataDir);
  const artifacts = createLocalArtifactStore(path.join(config.dataDir, 'artifacts'));
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
  logger.info({ address, dataDir: config.dataDir }, 'lablog listening');
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
