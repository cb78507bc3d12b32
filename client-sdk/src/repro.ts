// Reproducibility tags, under MLflow's own names so any MLflow UI shows them, plus lablog.* extras.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A diff larger than this is cut (and says so). */
export const MAX_DIFF_BYTES = 5 * 1024 * 1024;
/** MLflow's tag value limit. */
const MAX_TAG = 5000;
const LOCKFILES = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock', 'npm-shrinkwrap.json', 'bun.lock'];

interface GitResult {
  ok: boolean;
  stdout: string;
  truncated: boolean;
}

function git(args: string[], cwd: string, maxBuffer = 1024 * 1024): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, timeout: 5000, maxBuffer, windowsHide: true, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } },
      (err, stdout) => {
        const truncated = (err as NodeJS.ErrnoException | null)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
        resolve({ ok: !err || truncated, stdout: String(stdout ?? ''), truncated });
      },
    );
  });
}

/** Single-quotes what a POSIX shell would split or expand. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_\-.,:/@%+=]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An origin URL without user names, passwords or tokens (https://tok@host/x -> https://host/x). */
export function stripCredentials(url: string): string {
  const u = url.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    try {
      const parsed = new URL(u);
      const web = parsed.protocol === 'http:' || parsed.protocol === 'https:';
      // For ssh://git@host the user is a login name, not a secret; over http(s) it usually is one.
      if (web) parsed.username = '';
      parsed.password = '';
      return parsed.toString();
    } catch {
      return u.replace(/\/\/[^/@]*@/, '//');
    }
  }
  return u; // scp-like git@host:org/repo.git, or a local path: no secret in that syntax
}

/** sha256 of the nearest lockfile walking up from `cwd`; undefined when there is none. */
export function lockfileHash(cwd: string): { file: string; sha256: string } | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    for (const name of LOCKFILES) {
      const file = path.join(dir, name);
      if (existsSync(file)) {
        try {
          return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
        } catch {
          /* unreadable: keep looking */
        }
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const clip = (s: string) => (s.length > MAX_TAG ? s.slice(0, MAX_TAG - 1) + '…' : s);

/**
 * The source, git and environment of this process as run tags; `diff` is `git diff HEAD` when the work
 * tree has uncommitted changes (at most 5 MB). Without git, or outside a repository, the git tags are
 * simply absent. Never throws.
 */
export async function captureSourceTags(opts: { cwd?: string } = {}): Promise<{ tags: Record<string, string>; diff?: string }> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const tags: Record<string, string> = {};
  const script = process.argv[1];
  if (script) tags['mlflow.source.name'] = clip(path.resolve(script));
  tags['mlflow.source.type'] = 'LOCAL';
  try {
    tags['mlflow.user'] = os.userInfo().username;
  } catch {
    const user = process.env.USER ?? process.env.USERNAME;
    if (user) tags['mlflow.user'] = user;
  }
  tags['lablog.command'] = clip([process.argv[0], ...process.execArgv, ...process.argv.slice(1)].map(shellQuote).join(' '));
  tags['lablog.node_version'] = process.version;
  tags['lablog.os'] = `${os.platform()} ${os.release()} ${os.arch()}`;
  tags['lablog.hostname'] = os.hostname();
  const lock = lockfileHash(cwd);
  if (lock) tags['lablog.lockfile_sha256'] = lock.sha256;

  let diff: string | undefined;
  const head = await git(['rev-parse', '--verify', '-q', 'HEAD'], cwd);
  if (head.ok && /^[0-9a-f]{40,64}$/.test(head.stdout.trim())) {
    tags['mlflow.source.git.commit'] = head.stdout.trim();
    const [branch, origin, status] = await Promise.all([
      git(['symbolic-ref', '--short', '-q', 'HEAD'], cwd),
      git(['remote', 'get-url', 'origin'], cwd),
      git(['status', '--porcelain', '--untracked-files=no'], cwd),
    ]);
    if (branch.ok && branch.stdout.trim()) tags['mlflow.source.git.branch'] = branch.stdout.trim();
    if (origin.ok && origin.stdout.trim()) tags['mlflow.source.git.repoURL'] = clip(stripCredentials(origin.stdout.trim()));
    if (status.ok && status.stdout.trim() !== '') {
      const d = await git(['diff', 'HEAD', '--no-color', '--no-ext-diff'], cwd, MAX_DIFF_BYTES);
      if (d.ok && d.stdout !== '') {
        diff = d.truncated ? `${d.stdout}\n# lablog: diff truncated at ${MAX_DIFF_BYTES} bytes\n` : d.stdout;
      }
    }
  }
  return diff === undefined ? { tags } : { tags, diff };
}
