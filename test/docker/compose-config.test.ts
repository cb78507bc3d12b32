import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

// docker-compose.yml as Debian's docker-compose (v1, offline) reads it: `docker-compose config` prints the
// resolved file, which is parsed here (as YAML, by the Python that docker-compose itself runs on, which
// has PyYAML) and asserted on. Where docker-compose is not installed the test reports itself skipped.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-compose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const compose = (args: string[], cwd = dir) => spawnSync('docker-compose', args, { cwd, encoding: 'utf8', timeout: 60_000 });
const probe = compose(['version']);
const SKIP = probe.error || probe.status !== 0 ? `docker-compose is not installed (${probe.error?.message ?? probe.stderr.trim()})` : '';

/** The interpreter on docker-compose's #! line (the Python that has PyYAML). */
function composePython(): string {
  const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).stdout.trim();
  const first = readFileSync(which, 'utf8').split('\n')[0];
  return first.startsWith('#!') ? first.slice(2).trim().split(/\s+/)[0] : 'python3';
}

function yamlToJson(text: string): any {
  const py = spawnSync(composePython(), ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: text, encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  return JSON.parse(py.stdout);
}

describe('docker-compose.yml', () => {
  it('refuses to start without lablog.env (no default admin password)', (t) => {
    if (SKIP) return t.skip(SKIP);
    copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    rmSync(path.join(dir, 'lablog.env'), { force: true });
    const res = compose(['config']);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /lablog\.env/);
  });

  it('validates, with the lablog service, its volume, port, auth on and restart policy', (t) => {
    if (SKIP) return t.skip(SKIP);
    copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    copyFileSync(path.join(ROOT, 'lablog.env.example'), path.join(dir, 'lablog.env'));
    const res = compose(['config']);
    assert.equal(res.status, 0, res.stderr);
    const cfg = yamlToJson(res.stdout);

    // docker-compose v1 lists every service; `docker compose up -d` starts those without a profile.
    assert.deepEqual(Object.keys(cfg.services).filter((name) => !cfg.services[name].profiles), ['lablog']);
    const svc = cfg.services.lablog;
    assert.equal(svc.image, 'lablog:latest');
    assert.equal(svc.build.context, dir, 'built from the directory of the compose file');
    assert.equal(svc.restart, 'unless-stopped');
    assert.equal(svc.environment.LABLOG_AUTH, 'on');
    assert.equal(svc.environment.LABLOG_ADMIN_PASSWORD, 'change-me', 'the admin password comes from lablog.env');
    assert.deepEqual(svc.ports.map((p: any) => (typeof p === 'string' ? p : `${p.published}:${p.target}`)), ['5000:5000']);
    assert.deepEqual(svc.volumes, ['lablog-data:/data:rw']);
    assert.ok(cfg.volumes && 'lablog-data' in cfg.volumes, 'lablog-data is a named volume');
  });

  it('has a scale profile: PostgreSQL, MinIO and its bucket, two replicas on them, Caddy in front', (t) => {
    if (SKIP) return t.skip(SKIP);
    copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    copyFileSync(path.join(ROOT, 'lablog.env.example'), path.join(dir, 'lablog.env'));
    const res = spawnSync('docker-compose', ['--profile', 'scale', 'config'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, LABLOG_DB_PASSWORD: 'db-pass-1234', LABLOG_S3_SECRET: 's3-secret-1234' },
    });
    assert.equal(res.status, 0, res.stderr);
    const cfg = yamlToJson(res.stdout);
    const scale = Object.keys(cfg.services).filter((name) => cfg.services[name].profiles?.includes('scale')).sort();
    assert.deepEqual(scale, ['bucket', 'lablog-a', 'lablog-b', 'minio', 'postgres', 'proxy']);
    for (const name of ['lablog-a', 'lablog-b']) {
      const svc = cfg.services[name];
      assert.equal(svc.image, 'lablog:latest');
      assert.equal(svc.environment.LABLOG_AUTH, 'on');
      assert.equal(svc.environment.LABLOG_DATABASE_URL, 'postgres://lablog:db-pass-1234@postgres:5432/lablog');
      assert.equal(svc.environment.LABLOG_ARTIFACTS_URI, 's3://lablog/artifacts');
      assert.equal(svc.environment.AWS_ENDPOINT_URL, 'http://minio:9000');
      assert.equal(svc.environment.AWS_SECRET_ACCESS_KEY, 's3-secret-1234');
      assert.equal(svc.environment.LABLOG_ADMIN_PASSWORD, 'change-me', 'the first admin comes from lablog.env, as for one server');
      assert.equal(svc.depends_on.postgres.condition, 'service_healthy');
      assert.equal(svc.depends_on.bucket.condition, 'service_completed_successfully');
      assert.equal(svc.ports, undefined, 'replicas are reached through the proxy only');
    }
    assert.equal(cfg.services.postgres.environment.POSTGRES_PASSWORD, 'db-pass-1234');
    assert.equal(cfg.services.minio.environment.MINIO_ROOT_PASSWORD, 's3-secret-1234');
    const proxy = cfg.services.proxy;
    assert.deepEqual(proxy.command, ['caddy', 'reverse-proxy', '--from', ':8080', '--to', 'lablog-a:5000', '--to', 'lablog-b:5000']);
    assert.deepEqual(proxy.ports.map((p: any) => (typeof p === 'string' ? p : `${p.published}:${p.target}`)), ['8080:8080']);
    for (const volume of ['lablog-pg', 'lablog-s3']) assert.ok(volume in cfg.volumes, `${volume} is a named volume`);
  });

  it('ships lablog.env.example with the admin password to change', () => {
    const example = readFileSync(path.join(ROOT, 'lablog.env.example'), 'utf8');
    assert.match(example, /^LABLOG_ADMIN_PASSWORD=change-me$/m);
  });
});
