import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseJsonOr } from './json.js';

/** The compiled entry points, as a user (or the `lablog` bin) starts them. */
export const MAIN_JS = fileURLToPath(new URL('../../server/main.js', import.meta.url));
export const CLI_JS = fileURLToPath(new URL('../../server/cli.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LablogProcess {
  child: ChildProcess;
  /** stdout lines parsed as JSON (pino); lines that are not JSON are kept as { raw }. */
  lines: Record<string, any>[];
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves with the first stdout line (past or future) matching `pred`; rejects if the process exits first. */
  waitForLine(pred: (line: Record<string, any>) => boolean, what: string): Promise<Record<string, any>>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-proc-'));
  dirs.add(dir);
  return dir;
}

/** Kills what is still running (only the processes started here) and removes the temp dirs. */
export async function cleanup(): Promise<void> {
  await Promise.all(
    [...live].map((child) => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      if (!child.kill('SIGKILL')) resolve();
    })),
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** The environment of the test run without any LABLOG_* settings, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LABLOG_')) env[k] = v;
  return { ...env, ...extra };
}

export interface SpawnOptions {
  env?: Record<string, string>;
  script?: string;
  /** A command that execs the server (e.g. nsenter into a mount namespace); its pid is the server's. */
  wrap?: string[];
}

export function spawnLablog(args: string[], opts: SpawnOptions = {}): LablogProcess {
  const [command, ...argv] = [...(opts.wrap ?? []), process.execPath, opts.script ?? MAIN_JS, ...args];
  // cwd is a temp dir so that a default ./lablog-data could never land in the checkout.
  const child = spawn(command, argv, { cwd: tempDir(), env: cleanEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: Record<string, any>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const waiters: { pred: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
  const stdoutClosed = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! })
      .on('line', (text) => {
        let line: Record<string, any>;
        try {
          line = JSON.parse(text);
        } catch {
          line = { raw: text };
        }
        lines.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i].pred(line)) waiters.splice(i, 1)[0].resolve(line);
        }
      })
      .on('close', resolve);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      // Let the last stdout lines arrive before anyone looks at them.
      void stdoutClosed.then(() => resolve({ code, signal }));
    });
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine(pred, what) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exited.then((e) => {
          const stdout = lines.map((l) => JSON.stringify(l)).join('\n');
          reject(new Error(`lablog exited (${e.code ?? e.signal}) before ${what}\nstderr: ${stderr}\nstdout: ${stdout}`));
        });
      });
    },
  };
}

/** Starts a server and waits for its "lablog listening" line; `url` is the address it reports. */
export async function startLablog(args: string[], opts: SpawnOptions = {}) {
  const p = spawnLablog(args, opts);
  const line = await p.waitForLine((l) => l.msg === 'lablog listening', 'the listening line');
  return { ...p, url: line.address as string, listening: line };
}

/** Runs a command that is expected to end on its own (bad config, --help). */
export async function runToExit(args: string[], opts: { env?: Record<string, string>; script?: string } = {}) {
  const p = spawnLablog(args, opts);
  const exit = await p.exited;
  return { ...exit, stderr: p.stderr(), lines: p.lines };
}

/** SIGTERM, then the exit it causes. */
export async function stop(p: LablogProcess): Promise<Exit> {
  p.child.kill('SIGTERM');
  return p.exited;
}

export async function api(url: string, route: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${url}/api/2.0/mlflow/${route}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: parseJsonOr(text, undefined), text };
}
