import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup, CLI_JS, startLablog, stop, tempDir } from './support/lablog-process.js';

// Start-up time is mostly module loading, and the AWS SDK and pg take longer to load than the rest of
// the server together. A server on SQLite with local artifacts must not load them (nor the importers'
// and migration commands' modules): what it loads is traced by a resolve hook, not timed.

after(cleanup);

const HOOK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'import-trace.js');

async function importsOf(args: string[], script?: string): Promise<string[]> {
  const trace = path.join(tempDir(), 'imports.txt');
  const server = await startLablog(args, { script, env: { NODE_OPTIONS: `--import ${HOOK}`, LABLOG_TRACE_IMPORTS: trace } });
  await stop(server);
  return readFileSync(trace, 'utf8').split('\n').filter(Boolean);
}

const heavy = (urls: string[]) => urls.filter((u) => /\/node_modules\/(@aws-sdk|@smithy|pg|pg-pool|drizzle-orm\/pg-core)\/|\/server\/(store\/postgres\/|commands\/|artifacts\/s3(-location)?\.js)/.test(u));

describe('a server on SQLite with local artifacts', () => {
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
