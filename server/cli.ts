#!/usr/bin/env node
// Each command's module is loaded when it runs: `lablog server` should not wait for pg, the AWS SDK
// and the importers to load (restart after a crash is measured in these milliseconds).
const load = {
  accounts: () => import('./commands/accounts.js'),
  backup: () => import('./commands/backup.js'),
  importMlflow: () => import('./commands/import-mlflow.js'),
  migrateStore: () => import('./commands/migrate-store.js'),
  restore: () => import('./commands/restore.js'),
  gc: () => import('./gc-command.js'),
  sync: () => import('./sync-command.js'),
};

async function usage(): Promise<string> {
  const [{ ACCOUNTS_USAGE }, { BACKUP_USAGE }, { IMPORT_MLFLOW_USAGE }, { MIGRATE_STORE_USAGE }, { RESTORE_USAGE }, { GC_USAGE }, { SYNC_USAGE }] = await Promise.all([
    load.accounts(),
    load.backup(),
    load.importMlflow(),
    load.migrateStore(),
    load.restore(),
    load.gc(),
    load.sync(),
  ]);
  return `usage: lablog <command> [options]

commands:
  server [--host H] [--port P] [--data-dir D] [--log-level L]
         run the tracking server (defaults: 127.0.0.1, 5000, ./lablog-data;
         env LABLOG_HOST, LABLOG_PORT, LABLOG_DATA_DIR, LABLOG_LOG_LEVEL; flags win)
         [--auth on] requires credentials (env LABLOG_AUTH; docs/auth.md has every setting)
         [--artifacts-uri s3://bucket/prefix] keeps artifacts in S3 (env LABLOG_ARTIFACTS_URI)
${GC_USAGE}${SYNC_USAGE}${ACCOUNTS_USAGE}${BACKUP_USAGE}${RESTORE_USAGE}${IMPORT_MLFLOW_USAGE}${MIGRATE_STORE_USAGE}`;
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'server':
    // Loaded only here: the other commands start without fastify and the whole server.
    await (await import('./main.js')).serverCommand(rest);
    break;
  case 'gc':
    // exitCode, not exit(): the report on stdout must be flushed when it is a pipe.
    process.exitCode = await (await load.gc()).gcCommand(rest);
    break;
  case 'users':
  case 'tokens':
    process.exitCode = await (await load.accounts()).accountsCommand(command, rest);
    break;
  case 'sync':
    process.exitCode = await (await load.sync()).syncCommand(rest);
    break;
  case 'backup':
    process.exitCode = await (await load.backup()).backupCommand(rest);
    break;
  case 'restore':
    process.exitCode = await (await load.restore()).restoreCommand(rest);
    break;
  case 'import-mlflow':
    process.exitCode = await (await load.importMlflow()).importMlflowCommand(rest);
    break;
  case 'migrate-store':
    process.exitCode = await (await load.migrateStore()).migrateStoreCommand(rest);
    break;
  case undefined:
  case '-h':
  case '--help':
  case 'help':
    process.stdout.write(await usage());
    break;
  default:
    process.stderr.write(`lablog: unknown command '${command}'\n\n${await usage()}`);
    process.exit(2);
}
