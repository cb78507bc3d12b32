import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseS3Uri } from '../server/artifacts/s3-uri.js';
import { ConfigError, loadConfig, parseFlags, resolveArtifactsUri, type Config } from '../server/config.js';

// loadConfig creates the data dir, so every test runs inside a temp cwd: the default ./lablog-data
// must never appear in the checkout.
let cwd: string;
let home: string;

before(() => {
  home = process.cwd();
  cwd = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'lablog-config-')));
  process.chdir(cwd);
});

after(() => {
  process.chdir(home);
  rmSync(cwd, { recursive: true, force: true });
});

/** The settings this file is about; settings added later do not break these tests. */
function core(c: Config) {
  return { host: c.host, port: c.port, dataDir: c.dataDir, logLevel: c.logLevel, bodyLimit: c.bodyLimit };
}

/** The ConfigError that `fn` throws (failing if it throws anything else or nothing). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError, but nothing was thrown');
}

describe('loadConfig', () => {
  it('defaults: 127.0.0.1, 5000, ./lablog-data resolved against the cwd (and created), log level info', () => {
    const config = loadConfig([], {});
    assert.deepEqual(core(config), {
      host: '127.0.0.1',
      port: 5000,
      dataDir: path.join(cwd, 'lablog-data'),
      logLevel: 'info',
      bodyLimit: 8 * 1024 * 1024,
    });
    assert.ok(statSync(config.dataDir).isDirectory());
  });

  it('reads LABLOG_* env vars; numbers are parsed, relative dirs resolved', () => {
    const env = { LABLOG_HOST: '0.0.0.0', LABLOG_PORT: '8080', LABLOG_DATA_DIR: 'env-data', LABLOG_LOG_LEVEL: 'debug', LABLOG_BODY_LIMIT: '2048' };
    assert.deepEqual(core(loadConfig([], env)), { host: '0.0.0.0', port: 8080, dataDir: path.join(cwd, 'env-data'), logLevel: 'debug', bodyLimit: 2048 });
  });

  it('ignores empty env vars and env vars it does not know', () => {
    const config = loadConfig([], { LABLOG_PORT: '', LABLOG_HOST: '', LABLOG_PROT: '1', PORT: '1234' });
    assert.equal(config.port, 5000);
    assert.equal(config.host, '127.0.0.1');
  });

  it('flags win over env vars, per setting', () => {
    const env = { LABLOG_HOST: '10.0.0.1', LABLOG_PORT: '8080', LABLOG_DATA_DIR: 'env-data', LABLOG_LOG_LEVEL: 'debug' };
    const config = loadConfig(['--port', '9090', '--data-dir', 'flag-data'], env);
    assert.equal(config.port, 9090);
    assert.equal(config.dataDir, path.join(cwd, 'flag-data'));
    assert.equal(config.host, '10.0.0.1', 'settings without a flag still come from env');
    assert.equal(config.logLevel, 'debug');
  });

  it('a valid flag overrides an invalid env value', () => {
    assert.equal(loadConfig(['--port', '0'], { LABLOG_PORT: 'not-a-port' }).port, 0);
  });

  it('accepts --flag=value, keeping any further "=" in the value', () => {
    const dir = path.join(cwd, 'a=b');
    const config = loadConfig(['--port=1234', `--data-dir=${dir}`, '--host=::1', '--log-level=warn'], {});
    assert.deepEqual(core(config), { host: '::1', port: 1234, dataDir: dir, logLevel: 'warn', bodyLimit: 8 * 1024 * 1024 });
    assert.ok(existsSync(dir));
  });

  it('ports 0 (any free port) and 65535 are valid', () => {
    assert.equal(loadConfig(['--port', '0'], {}).port, 0);
    assert.equal(loadConfig(['--port', '65535'], {}).port, 65535);
  });

  for (const bad of ['abc', '-1', '65536', '1.5', '70000', '']) {
    it(`port ${JSON.stringify(bad)} is a ConfigError naming the port (flag and env)`, () => {
      for (const fn of [() => loadConfig([`--port=${bad}`], {}), () => loadConfig([], { LABLOG_PORT: bad || ' ' })]) {
        const err = configError(fn);
        assert.match(err.message, /^invalid configuration:/);
        assert.match(err.message, /\bport: port must be/);
      }
    });
  }

  it('an unknown log level or an empty host is a ConfigError naming the setting', () => {
    assert.match(configError(() => loadConfig(['--log-level', 'verbose'], {})).message, /logLevel:/);
    assert.match(configError(() => loadConfig(['--host='], {})).message, /host: host must not be empty/);
  });

  it('a data dir that cannot be created is a ConfigError naming the dir', () => {
    const file = path.join(cwd, 'plain-file');
    writeFileSync(file, 'x');
    const err = configError(() => loadConfig(['--data-dir', path.join(file, 'sub')], {}));
    assert.match(err.message, /^data dir '.*plain-file\/sub' is not writable/);
  });
});

describe('artifact storage (LABLOG_ARTIFACTS_URI, --artifacts-uri)', () => {
  it('unset means the data dir; an s3:// URI is taken from the env or the flag, the flag winning', () => {
    assert.equal(loadConfig([], {}).artifactsUri, undefined);
    assert.equal(loadConfig([], { LABLOG_ARTIFACTS_URI: '' }).artifactsUri, undefined);
    assert.equal(loadConfig([], { LABLOG_ARTIFACTS_URI: 's3://lablog-artifacts/team/a' }).artifactsUri, 's3://lablog-artifacts/team/a');
    assert.equal(loadConfig(['--artifacts-uri', 's3://flag.bucket'], { LABLOG_ARTIFACTS_URI: 's3://env-bucket/x' }).artifactsUri, 's3://flag.bucket');
    assert.equal(resolveArtifactsUri(undefined, { LABLOG_ARTIFACTS_URI: 's3://env-bucket/x' }), 's3://env-bucket/x');
    assert.equal(resolveArtifactsUri('s3://flag-bucket', { LABLOG_ARTIFACTS_URI: 's3://env-bucket/x' }), 's3://flag-bucket');
    assert.equal(resolveArtifactsUri(undefined, {}), undefined);
  });

  for (const bad of ['s3://', 's3:/bucket', 'S3://bucket', 's3://Bucket/x', 's3://ab', 's3://bucket/a/../b', 'file:///srv/artifacts', '/srv/artifacts', 'gs://bucket']) {
    it(`${JSON.stringify(bad)} is a ConfigError naming the setting`, () => {
      assert.match(configError(() => loadConfig(['--artifacts-uri', bad], {})).message, /artifactsUri: artifacts URI must look like s3:\/\/bucket\/prefix/);
      assert.match(configError(() => resolveArtifactsUri(undefined, { LABLOG_ARTIFACTS_URI: bad })).message, /artifactsUri:/);
    });
  }

  it('the bucket and prefix are read as S3 names them', () => {
    assert.deepEqual(parseS3Uri('s3://bucket'), { bucket: 'bucket', prefix: '' });
    assert.deepEqual(parseS3Uri('s3://bucket/'), { bucket: 'bucket', prefix: '' });
    assert.deepEqual(parseS3Uri('s3://my.bucket-1/a//b/'), { bucket: 'my.bucket-1', prefix: 'a/b' });
  });
});

describe('parseFlags', () => {
  it('maps each known flag to its setting, as strings; the last repeat wins', () => {
    assert.deepEqual(parseFlags(['--host', 'h', '--port', '1', '--data-dir', 'd', '--log-level', 'warn', '--port=2']), {
      host: 'h',
      port: '2',
      dataDir: 'd',
      logLevel: 'warn',
    });
    assert.deepEqual(parseFlags([]), {});
  });

  const unknown: [string[], string][] = [
    [['--prot', '5000'], '--prot'],
    [['-p', '5000'], '-p'],
    [['server'], 'server'],
    [['--PORT', '1'], '--PORT'],
    [['--body-limit', '1'], '--body-limit'],
    [['--port', '1', 'extra'], 'extra'],
  ];
  for (const [argv, name] of unknown) {
    it(`${JSON.stringify(argv)}: unknown option '${name}' is a ConfigError`, () => {
      const err = configError(() => parseFlags(argv));
      assert.match(err.message, new RegExp(`^unknown option '${name}'`));
      assert.match(err.message, /known: --host, --port, --data-dir, --log-level/);
    });
  }

  for (const flag of ['--host', '--port', '--data-dir', '--log-level']) {
    it(`${flag} without a value is a ConfigError`, () => {
      assert.equal(configError(() => parseFlags(['--port', '1', flag])).message, `option '${flag}' needs a value`);
    });
  }

  it('a flag followed by another flag has no value (it does not swallow the next flag)', () => {
    // Otherwise `--data-dir --log-level=debug` quietly creates a directory named "--log-level=debug".
    const err = configError(() => loadConfig(['--data-dir', '--log-level=debug'], {}));
    assert.match(err.message, /'--data-dir' needs a value/);
    assert.ok(!existsSync(path.join(cwd, '--log-level=debug')));
  });
});

describe('team hosting settings (docs/auth.md)', () => {
  it('auth is off by default; LABLOG_AUTH and --auth take on/off (and true/false, 1/0); the flag wins', () => {
    assert.equal(loadConfig([], {}).auth, false);
    for (const [v, want] of [['on', true], ['off', false], ['true', true], ['false', false], ['1', true], ['0', false]] as const) {
      assert.equal(loadConfig([], { LABLOG_AUTH: v }).auth, want, `LABLOG_AUTH=${v}`);
      assert.equal(loadConfig([`--auth=${v}`], {}).auth, want, `--auth=${v}`);
    }
    assert.equal(loadConfig(['--auth', 'off'], { LABLOG_AUTH: 'on' }).auth, false);
    assert.equal(loadConfig(['--auth', 'on'], { LABLOG_AUTH: 'off' }).auth, true);
  });

  for (const bad of ['yes', 'ON', 'enabled', '2']) {
    it(`LABLOG_AUTH=${bad} is a ConfigError naming the setting`, () => {
      for (const fn of [() => loadConfig([], { LABLOG_AUTH: bad }), () => loadConfig(['--auth', bad], {})]) {
        const err = configError(fn);
        assert.match(err.message, /^invalid configuration:/);
        assert.match(err.message, /\bauth: auth must be 'on' or 'off'/);
      }
    });
  }

  it('LABLOG_DEFAULT_PERMISSION: READ by default, MLflow names accepted, anything else a ConfigError', () => {
    assert.equal(loadConfig([], {}).defaultPermission, 'READ');
    for (const p of ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE']) assert.equal(loadConfig([], { LABLOG_DEFAULT_PERMISSION: p }).defaultPermission, p);
    for (const bad of ['read', 'WRITE', 'NONE', 'ALL']) {
      const err = configError(() => loadConfig([], { LABLOG_DEFAULT_PERMISSION: bad }));
      assert.match(err.message, /\bdefaultPermission: /, bad);
      assert.match(err.message, /NO_PERMISSIONS/, `${bad}: the message lists the valid values`);
    }
  });

  it('LABLOG_CORS_ORIGINS and LABLOG_TRUSTED_PROXIES are comma-separated lists, trimmed, empties dropped', () => {
    assert.deepEqual(loadConfig([], {}).corsOrigins, []);
    assert.deepEqual(loadConfig([], { LABLOG_CORS_ORIGINS: 'https://a.example' }).corsOrigins, ['https://a.example']);
    assert.deepEqual(loadConfig([], { LABLOG_CORS_ORIGINS: ' https://a.example , http://b.example:8080,,' }).corsOrigins, [
      'https://a.example',
      'http://b.example:8080',
    ]);
    assert.deepEqual(loadConfig([], { LABLOG_CORS_ORIGINS: '*' }).corsOrigins, ['*']);
    assert.deepEqual(loadConfig([], { LABLOG_CORS_ORIGINS: ' , ' }).corsOrigins, []);
    assert.deepEqual(loadConfig([], { LABLOG_TRUSTED_PROXIES: '127.0.0.1, ::1' }).trustedProxies, ['127.0.0.1', '::1']);
  });

  it('the numeric auth settings: defaults, parsing and bounds', () => {
    const c = loadConfig([], {});
    assert.deepEqual([c.rateLimit, c.loginMaxFailures, c.sessionTtlHours], [120_000, 10, 168]);
    const d = loadConfig([], { LABLOG_RATE_LIMIT: '0', LABLOG_LOGIN_MAX_FAILURES: '3', LABLOG_SESSION_TTL_HOURS: '0.5' });
    assert.deepEqual([d.rateLimit, d.loginMaxFailures, d.sessionTtlHours], [0, 3, 0.5]);
    assert.match(configError(() => loadConfig([], { LABLOG_RATE_LIMIT: '-1' })).message, /\brateLimit: /);
    assert.match(configError(() => loadConfig([], { LABLOG_LOGIN_MAX_FAILURES: '0' })).message, /\bloginMaxFailures: /);
    assert.match(configError(() => loadConfig([], { LABLOG_SESSION_TTL_HOURS: 'abc' })).message, /\bsessionTtlHours: /);
    assert.match(configError(() => loadConfig([], { LABLOG_ADMIN_PASSWORD: 'short' })).message, /adminPassword: the admin password must be at least 8 characters/);
  });
});
