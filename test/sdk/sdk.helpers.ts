import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before } from 'node:test';
import { Lablog, type LablogOptions } from 'lablog-client';
import { buildTestApp, listen, type TestApp } from '../helper.js';
import { cleanup, startLablog, tempDir } from '../support/lablog-process.js';
import { until as poll } from '../support/poll.js';
import { type CountingProxy, startProxy } from './counting-proxy.js';

// What the SDK tests share: a Lablog that leaves the test process alone, servers to point it at, and
// the reads that check what reached the server.

/** A Lablog at `url` without exit handlers or source capture, spooling into a fresh temp dir. */
export function testLablog(url: string, opts: LablogOptions = {}): Lablog {
  return new Lablog({ url, handleExit: false, captureSource: false, spoolDir: path.join(tempDir(), 'spool'), ...opts });
}

export type LablogServer = Awaited<ReturnType<typeof startLablog>>;

/** A lablog process started before the file's tests (and killed after), with no LABLOG_* settings. */
export function lablogProcess(): { readonly server: LablogServer } {
  const env = {} as { server: LablogServer };
  before(async () => {
    env.server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
  });
  after(cleanup);
  return env;
}

/** A lablog process behind a recording proxy (the SDK talks to `proxy.url`), for the file's tests. */
export function lablogBehindProxy(): { readonly server: LablogServer; readonly proxy: CountingProxy } {
  const env = {} as { server: LablogServer; proxy: CountingProxy };
  before(async () => {
    env.server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    env.proxy = await startProxy(env.server.url);
  });
  after(async () => {
    await env.proxy.close();
    await cleanup();
  });
  return env;
}

/** An in-process app (optionally on a clock the test moves) on a real socket, for the file's tests. */
export function servedApp(opts: Parameters<typeof buildTestApp>[0] = {}): { readonly app: TestApp; readonly url: string } {
  const env = {} as { app: TestApp; url: string };
  before(async () => {
    env.app = await buildTestApp(opts);
    env.url = `http://127.0.0.1:${await listen(env.app)}`;
  });
  after(() => env.app.close());
  return env;
}

/** GET `/api/2.0/mlflow/<route>` on `base`; the test fails unless the answer is 200. */
export async function mlflowGet(base: string, route: string, query: Record<string, string>): Promise<any> {
  const res = await fetch(`${base}/api/2.0/mlflow/${route}?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

/** MLflow's `[{key, value}]` lists (params, tags) as an object. */
export const kv = (list: { key: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

/** A stored metric point (NaN and infinities come back as the strings "NaN", "Infinity", "-Infinity"). */
export interface Point {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** Every stored point of `key` in the run, by step then timestamp. */
export async function metricHistory(base: string, runId: string, key: string): Promise<Point[]> {
  const json = await mlflowGet(base, 'metrics/get-history', { run_id: runId, metric_key: key });
  return ((json.metrics ?? []) as Point[]).sort((x, y) => x.step - y.step || x.timestamp - y.timestamp);
}

/** The run's status as the server has it now. */
export async function runStatus(base: string, runId: string): Promise<string> {
  return (await mlflowGet(base, 'runs/get', { run_id: runId })).run.info.status;
}

/** Waits until `pred` holds, with a generous bound (a wait for an event, never a timing assert). */
export async function until(pred: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  await poll(pred, Boolean, what, timeoutMs);
}
