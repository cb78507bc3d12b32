import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { captureSourceTags, gpuMetrics, parseNvidiaSmi, shellQuote, startSystemMetrics, stripCredentials } from 'lablog-client/node';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'lablog-repro-'));
  dirs.push(d);
  return d;
}

/** git with an identity and no user/system config, so the machine's settings cannot leak in. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();
}

describe('captureSourceTags', () => {
  test('in a dirty git work tree: commit, branch, repo URL without credentials, and the diff', async () => {
    const repo = tmp();
    git(repo, 'init', '-q', '-b', 'train-branch');
    git(repo, 'remote', 'add', 'origin', 'https://alice:s3cret-token@git.example.com/lab/models.git');
    writeFileSync(path.join(repo, 'train.py'), 'lr = 0.1\n');
    writeFileSync(path.join(repo, 'package-lock.json'), '{"lockfileVersion": 3}\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    const commit = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(path.join(repo, 'train.py'), 'lr = 0.3\n');
    mkdirSync(path.join(repo, 'sub', 'dir'), { recursive: true });

    const { tags, diff } = await captureSourceTags({ cwd: path.join(repo, 'sub', 'dir') });
    assert.equal(tags['mlflow.source.git.commit'], commit);
    assert.equal(tags['mlflow.source.git.branch'], 'train-branch');
    assert.equal(tags['mlflow.source.git.repoURL'], 'https://git.example.com/lab/models.git');
    for (const value of Object.values(tags)) {
      assert.ok(!value.includes('s3cret') && !value.includes('alice'), `a tag holds a credential: ${value}`);
    }
    assert.ok(diff !== undefined, 'a dirty tree has a diff');
    assert.match(diff, /^-lr = 0\.1$/m);
    assert.match(diff, /^\+lr = 0\.3$/m);
    assert.match(diff, /train\.py/);
    // The lockfile is found walking up from cwd.
    assert.equal(tags['lablog.lockfile_sha256'], createHash('sha256').update('{"lockfileVersion": 3}\n').digest('hex'));

    assert.equal(tags['mlflow.source.type'], 'LOCAL');
    assert.equal(tags['mlflow.source.name'], path.resolve(process.argv[1]));
    assert.equal(tags['mlflow.user'], os.userInfo().username);
    assert.equal(tags['lablog.node_version'], process.version);
    assert.equal(tags['lablog.hostname'], os.hostname());
    assert.equal(tags['lablog.os'], `${os.platform()} ${os.release()} ${os.arch()}`);
    assert.ok(tags['lablog.command'].includes(shellQuote(process.argv[1])));
  });

  test('a clean tree gives no diff; a detached HEAD gives no branch', async () => {
    const repo = tmp();
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(path.join(repo, 'a.txt'), 'a\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'a');
    writeFileSync(path.join(repo, 'untracked.txt'), 'not part of the diff\n');
    const clean = await captureSourceTags({ cwd: repo });
    assert.equal(clean.diff, undefined);
    assert.equal(clean.tags['mlflow.source.git.branch'], 'main');
    assert.equal(clean.tags['mlflow.source.git.repoURL'], undefined, 'no origin, no repoURL');

    git(repo, 'checkout', '-q', '--detach');
    const detached = await captureSourceTags({ cwd: repo });
    assert.equal(detached.tags['mlflow.source.git.commit'], git(repo, 'rev-parse', 'HEAD'));
    assert.equal(detached.tags['mlflow.source.git.branch'], undefined);
  });

  test('outside a repository: no git tags, no diff, the rest is there', async () => {
    const dir = tmp();
    const { tags, diff } = await captureSourceTags({ cwd: dir });
    assert.equal(diff, undefined);
    assert.deepEqual(Object.keys(tags).filter((k) => k.startsWith('mlflow.source.git')), []);
    assert.equal(tags['mlflow.source.type'], 'LOCAL');
    assert.ok(tags['lablog.command']);
  });

  test('credentials are stripped from every URL form', () => {
    assert.equal(stripCredentials('https://ghp_token@github.com/o/r.git'), 'https://github.com/o/r.git');
    assert.equal(stripCredentials('https://user:pass@gitlab.com/o/r'), 'https://gitlab.com/o/r');
    assert.equal(stripCredentials('ssh://git:pw@host.example/o/r.git'), 'ssh://git@host.example/o/r.git');
    assert.equal(stripCredentials('git@github.com:o/r.git'), 'git@github.com:o/r.git');
    assert.equal(stripCredentials('/srv/git/r.git'), '/srv/git/r.git');
  });

  test('the command line is shell-quoted', () => {
    assert.equal(shellQuote('train.js'), 'train.js');
    assert.equal(shellQuote('--lr=0.1'), '--lr=0.1');
    assert.equal(shellQuote('two words'), "'two words'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote(''), "''");
  });
});

describe('startSystemMetrics', () => {
  test('logs MLflow-named system metrics with increasing steps until stopped', async () => {
    const logged: { m: Record<string, number>; step?: number }[] = [];
    let onLog = () => {};
    const nextLog = () => new Promise<void>((resolve) => (onLog = resolve));
    // The sampler's interval runs on a mocked clock: the test decides when a sample is due.
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const stop = startSystemMetrics({ log: (m, o) => (logged.push({ m, step: o?.step }), onLog()) }, 20);
      for (let n = 1; n <= 2; n++) {
        const logs = nextLog();
        mock.timers.tick(20);
        await logs; // a sample may wait on nvidia-smi (a child process) before it logs
      }
      stop();
      // Ten more intervals after stop: nothing more is logged (a sample's own work is synchronous
      // once nvidia-smi was found missing or answered, so a few event-loop turns would show it).
      for (let n = 0; n < 10; n++) {
        mock.timers.tick(20);
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      mock.timers.reset();
    }
    assert.deepEqual(logged.map((l) => l.step), [0, 1]);
    for (const key of ['cpu_utilization_percentage', 'system_memory_usage_megabytes', 'system_memory_usage_percentage', 'process_rss_megabytes']) {
      const v = logged[1].m[`system/${key}`];
      assert.ok(Number.isFinite(v) && v >= 0, `${key}: ${v}`);
    }
    assert.ok(logged[1].m['system/system_memory_usage_percentage'] <= 100);
  });

  test('nvidia-smi output becomes per-GPU metrics; N/A values are left out', () => {
    const gpus = parseNvidiaSmi('87, 10240, 40960\n[N/A], 512, 16384\n');
    assert.deepEqual(gpuMetrics(gpus), {
      'system/gpu_0_utilization_percentage': 87,
      'system/gpu_0_memory_usage_megabytes': (10240 * 1024 * 1024) / 1e6,
      'system/gpu_0_memory_usage_percentage': 25,
      'system/gpu_1_memory_usage_megabytes': (512 * 1024 * 1024) / 1e6,
      'system/gpu_1_memory_usage_percentage': 3.125,
    });
  });
});
