import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WEB_ROOT } from '../../server/http/web.js';
import { cleanup, startLablog, tempDir } from '../support/lablog-process.js';

/**
 * Browser tests drive Debian's chromium (never a downloaded browser) against a real lablog server
 * started as a user starts it. Without chromium or a built UI, suites skip with the reason, so a
 * missing browser is visible, never a silent pass.
 */
export function chromiumPath(): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function skipReason(): string | false {
  if (!chromiumPath()) return 'chromium is not installed (apt-get install chromium); .ci/run installs it';
  if (!existsSync(`${WEB_ROOT}/index.html`)) return 'the UI is not built (npm run build)';
  return false;
}

export interface Env {
  url: string;
  browser: Browser;
  page: Page;
  /** POST/GET helpers against the server's MLflow API, for seeding and for checking. */
  api<T = any>(method: 'GET' | 'POST', endpoint: string, body?: unknown): Promise<T>;
  /** The credentials `api` sends (none with auth off). */
  headers: Record<string, string>;
  close(): Promise<void>;
}

/**
 * `args` / `env`: extra server flags and LABLOG_* settings (e.g. `--auth on`); `headers`: sent by
 * `api` on every request (credentials, when auth is on).
 */
export async function startEnv(opts: { args?: string[]; env?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Env> {
  const server = await startLablog(['--port', '0', '--data-dir', tempDir(), '--log-level', 'info', ...(opts.args ?? [])], { env: opts.env });
  const browser = await chromium.launch({
    executablePath: chromiumPath()!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(20_000);
  const api = async (method: 'GET' | 'POST', endpoint: string, body?: unknown) => {
    const url = new URL(endpoint.startsWith('/') ? endpoint : `/api/2.0/mlflow/${endpoint}`, server.url);
    if (method === 'GET' && body) for (const [k, v] of Object.entries(body as Record<string, string | string[]>)) for (const x of [v].flat()) url.searchParams.append(k, x);
    const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...opts.headers }, body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined });
    const json = await res.json();
    if (!res.ok) throw new Error(`${endpoint}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    url: server.url,
    browser,
    page,
    api,
    headers: opts.headers ?? {},
    async close() {
      await browser.close();
      await cleanup();
    },
  };
}

/** Uploads one artifact of a run (its artifact_uri as runs/create answered) through the proxied artifact API, with the env's credentials. */
export async function putArtifact(env: Env, artifactUri: string, p: string, body: Buffer | string): Promise<void> {
  const root = artifactUri.replace(/^mlflow-artifacts:\//, '');
  const res = await fetch(new URL(`/api/2.0/mlflow-artifacts/artifacts/${root}/${p}`, env.url), { method: 'PUT', headers: env.headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
  if (res.status !== 200) throw new Error(`PUT ${p}: ${res.status} ${await res.text()}`);
}

/**
 * Where a test saves its page screenshot: docs/screenshots/<name>.png when LABLOG_SCREENSHOTS=1
 * (to refresh the committed pictures), otherwise a temp file, so a test run never dirties the tree.
 */
export function screenshotPath(name: string): string {
  if (process.env.LABLOG_SCREENSHOTS === '1') return fileURLToPath(new URL(`../../../docs/screenshots/${name}.png`, import.meta.url));
  return path.join(os.tmpdir(), `lablog-screenshot-${process.pid}-${name}.png`);
}
