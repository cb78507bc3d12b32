// How soon a change made through one lablog server reaches another's caches (issue #13): two servers
// with LABLOG_AUTH=on on one PostgreSQL database; each round a token is verified on b (so b caches it
// for up to 30 s), revoked through a, and b is asked again until it refuses. `node
// dist/bench/auth-changes.js [postgres://...]` after `npm run build` (BENCH_QUICK=1: fewer rounds);
// without a URL it starts a throwaway cluster as the tests do (Debian's postgresql package installed).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { log, machineInfo, percentile, QUICK, textTable } from './lib.js';
import { startLocalServer, type LocalServer } from './local-server.js';
import { createDatabase, dropDatabase, postgresSkip } from '../test/support/postgres.js';

const ROUNDS = QUICK ? 10 : 100;
// Beyond this b is taken to answer from its cache (the feature missing): the round gives up.
const GIVE_UP_MS = 10_000;

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

async function call(url: string, route: string, authorization: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? { authorization } : { authorization, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function must(url: string, route: string, authorization: string, body?: unknown): Promise<any> {
  const r = await call(url, route, authorization, body);
  if (r.status !== 200) throw new Error(`${route}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

const given = process.argv[2];
let created: string | null = null;
const servers: LocalServer[] = [];
console.log(`# a token revoked through server a, refused by server b${QUICK ? ' (BENCH_QUICK=1)' : ''}`);
console.log(machineInfo());
console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
try {
  let url = given;
  if (!url) {
    const skip = postgresSkip();
    if (skip) throw new Error(`no PostgreSQL to benchmark: ${skip}`);
    url = created = await createDatabase();
  }
  const password = randomBytes(18).toString('base64url');
  const env = { LABLOG_DATABASE_URL: url, LABLOG_AUTH: 'on', LABLOG_ADMIN_PASSWORD: password };
  // One after the other: the first makes the admin.
  for (let i = 0; i < 2; i++) servers.push(await startLocalServer({ env }));
  const [a, b] = servers.map((s) => s.url);
  const admin = basic('admin', password);
  // The listeners connect while the servers start; a moment more so that the first round is no exception.
  await sleep(500);

  const ms: number[] = [];
  const asked: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { token } = await must(a, '/api/2.0/lablog/tokens/create', admin, { name: `round-${round}` });
    const bearer = `Bearer ${token.value}`;
    await must(b, '/api/2.0/mlflow/experiments/search', bearer);
    await must(a, '/api/2.0/lablog/tokens/revoke', admin, { id: token.id });
    const t0 = performance.now();
    for (let n = 1; ; n++) {
      const r = await call(b, '/api/2.0/mlflow/experiments/search', bearer);
      if (r.status === 401) {
        ms.push(performance.now() - t0);
        asked.push(n);
        break;
      }
      if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`round ${round}: b still accepts the revoked token after ${GIVE_UP_MS} ms`);
    }
  }
  const first = asked.filter((n) => n === 1).length;
  log(`${ROUNDS} rounds`);
  console.log(
    textTable(
      ['figure', 'value'],
      [
        ['refused by b at the first request after a answered the revoke', `${first} of ${ROUNDS} rounds`],
        ['time from the revoke answer to b refusing, median', `${percentile(ms, 50).toFixed(1)} ms`],
        ['time from the revoke answer to b refusing, p99 / max', `${percentile(ms, 99).toFixed(1)} / ${Math.max(...ms).toFixed(1)} ms`],
        ['requests b accepted after the revoke answer, at most', String(Math.max(...asked) - 1)],
      ],
    ),
  );
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  for (const s of servers) s.cleanup();
  if (created) await dropDatabase(created);
}
process.exit(0);
