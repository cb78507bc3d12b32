import pg from 'pg';
import { cleanup, startLablog, stop, tempDir, type Exit } from './lablog-process.js';
import { createDatabase, dropDatabase } from './postgres.js';

/**
 * `n` lablog processes started at once on one new, empty database of the test cluster (each with its
 * own data dir), and a one-connection pool on that database for checking rows. `close()` stops the
 * servers, removes the database and answers the servers' exits.
 */
export async function serversOnOneDatabase(n: number, env: Record<string, string> = {}) {
  const db = await createDatabase();
  const servers = await Promise.all(
    Array.from({ length: n }, () => startLablog(['--port', '0', '--data-dir', tempDir()], { env: { LABLOG_DATABASE_URL: db, ...env } })),
  );
  const pool = new pg.Pool({ connectionString: db, max: 1 });
  return {
    db,
    servers,
    pool,
    async close(): Promise<Exit[]> {
      await pool.end();
      const exits = await Promise.all(servers.map(stop));
      await cleanup();
      await dropDatabase(db);
      return exits;
    },
  };
}

export const basic = (user: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` });

/** One request to a server process; `route` is under /api/2.0/mlflow/ unless it starts with '/'. */
export async function call(base: string, method: 'GET' | 'POST', route: string, body: unknown, headers: Record<string, string>) {
  const url = `${base}${route.startsWith('/') ? route : `/api/2.0/mlflow/${route}`}`;
  const res = await fetch(url, body === undefined ? { method, headers } : { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}
