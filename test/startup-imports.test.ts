import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup, CLI_JS, startLablog, stop, tempDir } from './support/lablog-process.js';

// Start-up time is mostly module loading, and the AWS SDK and pg take longer to load than the rest of
// the server together. A server on SQLite with local artifacts must not load them (nor the importers'
// and migration commands' modules): what it loads is traced by a resolve hook, not timed. The entry
// points are bundled (scripts/bundle-server.mjs): a loaded bundle file stands for the sources it holds,
// as dist/server/bundle-inputs.json lists them.

after(cleanup);

const HOOK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'import-trace.js');
const SERVER_DIR = path.dirname(CLI_JS);
const ROOT = path.resolve(SERVER_DIR, '../..');
const BUNDLED = JSON.parse(readFileSync(path.join(SERVER_DIR, 'bundle-inputs.json'), 'utf8')) as Record<string, string[]>;

/** A loaded URL, or for a bundle file the sources in it (as file paths, like the URLs' paths). */
function sources(url: string): string[] {
  if (!url.startsWith('file:')) return [url];
  const file = fileURLToPath(url);
  const inputs = path.dirname(file) === SERVER_DIR ? BUNDLED[path.basename(file)] : undefined;
  return inputs ? [file, ...inputs.map((i) => path.join(ROOT, i))] : [file];
}

async function importsOf(args: string[], script?: string): Promise<string[]> {
  const trace = path.join(tempDir(), 'imports.txt');
  const server = await startLablog(args, { script, env: { NODE_OPTIONS: `--import ${HOOK}`, LABLOG_TRACE_IMPORTS: trace } });
  await stop(server);
  return readFileSync(trace, 'utf8').split('\n').filter(Boolean).flatMap(sources);
}

const heavy = (urls: string[]) => urls.filter((u) => /\/node_modules\/(@aws-sdk|@smithy|pg|pg-pool|drizzle-orm\/pg-core)\/|\/server\/(store\/postgres\/|commands\/|artifacts\/s3(-location)?\.js)/.test(u));

describe('a server on SQLite with local artifacts', () => {
  it('runs the bundled entry points, which hold the server and leave pg and the AWS SDK out', () => {
    assert.ok(BUNDLED['main.js'].includes('dist/server/app.js'));
    assert.ok(BUNDLED['main.js'].some((i) => i.startsWith('node_modules/fastify/')));
    const all = Object.values(BUNDLED).flat();
    assert.deepEqual(all.filter((i) => /^node_modules\/(@aws-sdk|@smithy|pg|pg-pool|better-sqlite3)\//.test(i)), []);
    // ...while the PostgreSQL store's own code is bundled, in a chunk of its own the server never loads.
    assert.ok(Object.entries(BUNDLED).some(([file, inputs]) => file !== 'main.js' && inputs.includes('dist/server/store/postgres/index.js')));
  });

  it('starts without loading pg, the AWS SDK or the commands (npm start)', async () => {
    const urls = await importsOf(['--port', '0', '--data-dir', tempDir()]);
    assert.ok(urls.some((u) => u.includes('/node_modules/fastify/')), 'the trace saw the server load');
    assert.deepEqual(heavy(urls), []);
  });

  it('starts without them as `lablog server` too', async () => {
    const urls = await importsOf(['server', '--port', '0', '--data-dir', tempDir()], CLI_JS);
    assert.ok(urls.some((u) => u.endsWith('/server/main.js')));
    assert.deepEqual(heavy(urls), []);
  });
});
