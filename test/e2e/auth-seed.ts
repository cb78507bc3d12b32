import type { Browser, Page } from 'playwright-core';
import { parseJsonOr } from '../support/json.js';
import { startEnv, type Env } from './browser.js';

/** The first admin of an auth-on test server (LABLOG_ADMIN_PASSWORD). */
export const ADMIN = { username: 'admin', password: 'admin-password-1' };

export const basic = (username: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A server with auth on (LABLOG_AUTH=on, as docker-compose runs it); `env.api` acts as the first admin. */
export function startAuthEnv(settings: Record<string, string> = {}): Promise<Env> {
  return startEnv({ args: ['--auth', 'on'], env: { LABLOG_ADMIN_PASSWORD: ADMIN.password, ...settings }, headers: basic(ADMIN.username, ADMIN.password) });
}

export interface Answer {
  status: number;
  json: any;
}

/** One request with the given credentials (or none); never throws on an error status. */
export async function http(env: Env, method: 'GET' | 'POST', endpoint: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(endpoint.startsWith('/') ? endpoint : `/api/2.0/mlflow/${endpoint}`, env.url);
  if (method === 'GET' && body) for (const [k, v] of Object.entries(body as Record<string, string>)) url.searchParams.append(k, v);
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined });
  const text = await res.text();
  return { status: res.status, json: parseJsonOr(text, text) };
}

/** Creates a user through the management API (as the admin). */
export async function createUser(env: Env, username: string, password: string, role: 'admin' | 'editor' | 'viewer'): Promise<void> {
  await env.api('POST', '/api/2.0/lablog/users/create', { username, password, role });
}

/** A fresh browser context (its own cookies): another person at another browser. */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('dialog', (d) => void d.accept());
  return page;
}

/** Logs in on the login page the app shows at `url`; waits for the user menu. */
export async function loginAs(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button:text-is("Sign in")');
  await page.waitForSelector('[data-testid=user-menu]');
}
