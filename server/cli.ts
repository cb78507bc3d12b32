#!/usr/bin/env node
import { ACCOUNTS_USAGE, accountsCommand } from './commands/accounts.js';
import { BACKUP_USAGE, backupCommand } from './commands/backup.js';
import { IMPORT_MLFLOW_USAGE, importMlflowCommand } from './commands/import-mlflow.js';
import { MIGRATE_STORE_USAGE, migrateStoreCommand } from './commands/migrate-store.js';
import { RESTORE_USAGE, restoreCommand } from './commands/restore.js';
import { GC_USAGE, gcCommand } from './gc-command.js';
import { SYNC_USAGE, syncCommand } from './sync-command.js';

const USAGE = `usage: lablog <command> [options]

commands:
  server [--host H] [--port P] [--data-dir D] [--log-level L]
         run the tracking server (defaults: 127.0.0.1, 5000, ./lablog-data;
         env LABLOG_HOST, LABLOG_PORT, LABLOG_DATA_DIR, LABLOG_LOG_LEVEL; flags win)
         [--auth on] requires credentials (env LABLOG_AUTH; docs/auth.md has every setting)
         [--artifacts-uri s3://bucket/prefix] keeps artifacts in S3 (env LABLOG_ARTIFACTS_URI)
${GC_USAGE}${SYNC_USAGE}${ACCOUNTS_USAGE}${BACKUP_USAGE}${RESTORE_USAGE}${IMPORT_MLFLOW_USAGE}${MIGRATE_STORE_USAGE}`;

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'server':
    // Loaded only here: the other commands start without fastify and the whole server.
    await (await import('./main.js')).serverCommand(rest);
    break;
  case 'gc':
    // exitCode, not exit(): the report on stdout must be flushed when it is a pipe.
    process.exitCode = await gcCommand(rest);
    break;
  case 'users':
  case 'tokens':
    process.exitCode = await accountsCommand(command, rest);
    break;
  case 'sync':
    process.exitCode = await syncCommand(rest);
    break;
  case 'backup':
    process.exitCode = await backupCommand(rest);
    break;
  case 'restore':
    process.exitCode = await restoreCommand(rest);
    break;
  case 'import-mlflow':
    process.exitCode = await importMlflowCommand(rest);
    break;
  case 'migrate-store':
    process.exitCode = await migrateStoreCommand(rest);
    break;
  case undefined:
  case '-h':
  case '--help':
  case 'help':
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(`lablog: unknown command '${command}'\n\n${USAGE}`);
    process.exit(2);
}
