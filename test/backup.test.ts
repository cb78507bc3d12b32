import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Header } from 'tar';
import { BackupError, restoreBackup } from '../server/backup/backup.service.js';
import { parseBackupArgs } from '../server/commands/backup.js';
import { parseRestoreArgs } from '../server/commands/restore.js';
import { api, CLI_JS, cleanup, spawnLablog, startLablog, stop, tempDir } from './support/lablog-process.js';

// `lablog backup` and `lablog restore` as a user runs them: child processes on real SQLite files, the
// backup taken while a server (another child process) keeps accepting writes on the same data dir.

const T = { timeout: 120_000 };
after(cleanup);

/** Runs `lablog <args>` to its end, without blocking this process (a server here may be serving meanwhile). */
async function lablog(args: string[]) {
  const p = spawnLablog(args, { script: CLI_JS });
  const { code } = await p.exited;
  return { code, stdout: p.lines.map((l) => l.raw ?? JSON.stringify(l)).join('\n'), stderr: p.stderr() };
}

/** Every file under `dir` (relative path -> sha256), directories left out. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out[r] = createHash('sha256').update(readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  if (existsSync(dir)) walk('');
  return out;
}

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('\n');
  } finally {
    db.close();
  }
}

async function ok(url: string, route: string, body: unknown) {
  const res = await api(url, route, body);
  assert.equal(res.status, 200, `${route}: ${res.text}`);
  return res.json;
}

async function putArtifact(url: string, rel: string, body: Buffer) {
  const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${rel.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', body: new Uint8Array(body) });
  assert.equal(res.status, 200, `PUT ${rel}: ${await res.text()}`);
}

/** A data dir with a run, metrics, params and artifacts of awkward sizes and names, made by a server. */
async function seeded() {
  const dir = tempDir();
  const s = await startLablog(['--port', '0', '--data-dir', dir]);
  const exp = (await ok(s.url, 'experiments/create', { name: 'backed-up' })).experiment_id as string;
  const runId = (await ok(s.url, 'runs/create', { experiment_id: exp, run_name: 'r' })).run.info.run_id as string;
  await ok(s.url, 'runs/log-batch', {
    run_id: runId,
    params: [{ key: 'lr', value: '0.01' }],
    metrics: Array.from({ length: 500 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: 1000 + i, step: i })),
  });
  const base = `${exp}/${runId}/artifacts`;
  const files: Record<string, Buffer> = {
    [`${base}/empty.txt`]: Buffer.alloc(0),
    [`${base}/one-block.bin`]: Buffer.alloc(512, 1),
    [`${base}/odd.bin`]: createHash('sha512').update('x').digest(),
    [`${base}/model/weights.bin`]: Buffer.from(Array.from({ length: 1024 * 1024 + 3 }, (_, i) => (i * 7919) % 256)),
    // Longer than ustar's 100-byte name field: needs a PAX header.
    [`${base}/${'deep-folder-name/'.repeat(8)}prédictions ünïcode.json`]: Buffer.from('{"ok":true}\n'),
  };
  for (const [rel, body] of Object.entries(files)) await putArtifact(s.url, rel, body);
  return { dir, server: s, runId, exp, files };
}

/** One tar entry (header and padded body), as a hostile archive would carry it. */
function tarEntry(name: string, body: Buffer): Buffer {
  const h = new Header({ path: name, type: 'File', size: body.length, mode: 0o644, mtime: new Date(0) });
  h.encode();
  return Buffer.concat([h.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('lablog backup / restore', () => {
  it('takes a consistent online backup while a server keeps accepting writes: every write acknowledged before it began is restored', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['--port', '0', '--data-dir', dir]);
    const exp = (await ok(s.url, 'experiments/create', { name: 'online' })).experiment_id as string;
    const runId = (await ok(s.url, 'runs/create', { experiment_id: exp, run_name: 'busy' })).run.info.run_id as string;
    // Some bulk, so the copy has pages to go through while writes arrive.
    for (let b = 0; b < 100; b++) {
      const metrics = Array.from({ length: 1000 }, (_, i) => ({ key: 'bulk', value: b * 1000 + i, timestamp: 1, step: b * 1000 + i }));
      await ok(s.url, 'runs/log-batch', { run_id: runId, metrics });
    }
    await putArtifact(s.url, `${exp}/${runId}/artifacts/base.bin`, Buffer.alloc(3 * 1024 * 1024, 5));

    // Two sequential metric writers and one artifact writer, each counting its acknowledged writes.
    const acked = { w0: 0, w1: 0, art: 0 };
    let stopWriting = false;
    const batch = (w: string, n: number) => ({
      run_id: runId,
      metrics: Array.from({ length: 10 }, (_, i) => ({ key: w, value: n * 10 + i, timestamp: 2, step: n * 10 + i })),
      params: [{ key: `${w}.b${n}`, value: String(n) }],
    });
    const artifact = (n: number) => Buffer.alloc(1000 + ((n * 377) % 9000), n % 251);
    const metricWriter = async (w: 'w0' | 'w1') => {
      for (let n = 0; !stopWriting; n++) {
        await ok(s.url, 'runs/log-batch', batch(w, n));
        acked[w] = n + 1;
      }
    };
    const artifactWriter = async () => {
      for (let n = 0; !stopWriting; n++) {
        await putArtifact(s.url, `${exp}/${runId}/artifacts/live/f${n}.bin`, artifact(n));
        acked.art = n + 1;
      }
    };
    const writers = [metricWriter('w0'), metricWriter('w1'), artifactWriter()];
    // Let each writer get some writes acknowledged (whatever the machine's speed) before the backup starts.
    while (acked.w0 < 5 || acked.w1 < 5 || acked.art < 5) await new Promise((r) => setImmediate(r));

    const archive = path.join(tempDir(), 'online.tar.gz');
    const before = { ...acked };
    const backup = lablog(['backup', archive, '--data-dir', dir]);
    const b = await backup;
    stopWriting = true;
    await Promise.all(writers);
    const sent = { ...acked };
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^backup .*online\.tar\.gz: \d+ bytes .*database .* and \d+ artifact files .* in \d+\.\d s$/);
    assert.equal(b.stderr, '', 'quiet when stderr is not a terminal');
    assert.deepEqual(await stop(s), { code: 0, signal: null });

    const restored = path.join(tempDir(), 'restored');
    const r = await lablog(['restore', archive, '--data-dir', restored]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /integrity ok/);
    assert.equal(integrity(path.join(restored, 'lablog.db')), 'ok');

    const again = await startLablog(['--port', '0', '--data-dir', restored]);
    const run = (await api(again.url, `runs/get?run_id=${runId}`)).json.run;
    const params = new Map<string, string>(run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
    for (const w of ['w0', 'w1'] as const) {
      const history = await api(again.url, `metrics/get-history?run_id=${runId}&metric_key=${w}`);
      const values = history.json.metrics?.map((m: { value: number }) => m.value) ?? [];
      // A consistent snapshot of a sequential writer is a whole prefix of its batches: none torn, no holes.
      const k = values.length / 10;
      assert.ok(Number.isInteger(k), `${w}: whole batches only (${values.length} points)`);
      assert.deepEqual(values, Array.from({ length: k * 10 }, (_, i) => i), `${w}: steps 0..${k * 10 - 1} in order`);
      assert.ok(k >= before[w], `${w}: the ${before[w]} batches acknowledged before the backup began are there (found ${k})`);
      assert.ok(k <= sent[w], `${w}: no more than were sent`);
      for (let n = 0; n < sent[w]; n++) assert.equal(params.get(`${w}.b${n}`), n < k ? String(n) : undefined, `${w} param b${n}`);
    }
    const bulk = await api(again.url, `metrics/get-history?run_id=${runId}&metric_key=bulk`);
    assert.equal(bulk.json.metrics.length, 100_000);
    assert.deepEqual(await stop(again), { code: 0, signal: null });

    // Artifacts: the acknowledged ones are all there; any other is whole, never half written.
    const live = tree(path.join(restored, 'artifacts', exp, runId, 'artifacts', 'live'));
    for (let n = 0; n < before.art; n++) assert.equal(live[`f${n}.bin`], sha(artifact(n)), `artifact f${n} acknowledged before the backup`);
    for (const [name, hash] of Object.entries(live)) {
      const n = Number(/^f(\d+)\.bin$/.exec(name)?.[1]);
      assert.ok(n < sent.art, `${name} was uploaded`);
      assert.equal(hash, sha(artifact(n)), `${name} is whole`);
    }
    assert.equal(tree(path.join(restored, 'artifacts', exp, runId, 'artifacts'))['base.bin'], sha(Buffer.alloc(3 * 1024 * 1024, 5)));
  });

  it('round-trips artifacts byte for byte (tar and tar.gz); --no-artifacts leaves them out', T, async () => {
    const { dir, server, runId, files } = await seeded();
    const out = tempDir();
    for (const name of ['plain.tar', 'zipped.tar.gz']) {
      const archive = path.join(out, name);
      const b = await lablog(['backup', archive, `--data-dir=${dir}`]);
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stdout, /and 5 artifact files/);
      if (name.endsWith('.gz')) assert.deepEqual([...readFileSync(archive).subarray(0, 2)], [0x1f, 0x8b], 'gzip when the name ends in .tar.gz');
      else assert.equal(readFileSync(archive).subarray(257, 262).toString(), 'ustar', 'a plain tar otherwise');

      const restored = path.join(tempDir(), 'r');
      const r = await lablog(['restore', archive, '--data-dir', restored]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(restored).sort(), ['artifacts', 'lablog.db'], 'no staging or -wal/-shm left behind');
      const expected = Object.fromEntries(Object.entries(files).map(([rel, body]) => [rel, sha(body)]));
      assert.deepEqual(tree(path.join(restored, 'artifacts')), expected);
      assert.deepEqual(tree(path.join(restored, 'artifacts')), tree(path.join(dir, 'artifacts')));
      assert.equal(integrity(path.join(restored, 'lablog.db')), 'ok');
    }

    const dbOnly = path.join(out, 'db-only.tgz');
    const b = await lablog(['backup', dbOnly, '--data-dir', dir, '--no-artifacts']);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /no artifacts/);
    assert.ok(statSync(dbOnly).size < 1024 * 1024, 'the 1 MiB of artifacts is not in it');
    const restored = path.join(tempDir(), 'r');
    const r = await lablog(['restore', dbOnly, '--data-dir', restored]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no artifacts/);
    assert.deepEqual(readdirSync(restored), ['lablog.db']);
    assert.deepEqual(await stop(server), { code: 0, signal: null });
    // The database alone is a working lablog: the run and its metrics are there.
    const again = await startLablog(['--port', '0', '--data-dir', restored]);
    const history = await api(again.url, `metrics/get-history?run_id=${runId}&metric_key=loss`);
    assert.equal(history.json.metrics.length, 500);
    assert.equal((await api(again.url, `runs/get?run_id=${runId}`)).json.run.data.params[0].value, '0.01');
    assert.deepEqual(await stop(again), { code: 0, signal: null });
  });

  it('restore refuses a non-empty data dir (exit 2) and writes nothing', T, async () => {
    const { dir, server } = await seeded();
    const archive = path.join(tempDir(), 'b.tar');
    assert.equal((await lablog(['backup', archive, '--data-dir', dir])).code, 0);
    await stop(server);

    const target = tempDir();
    writeFileSync(path.join(target, 'notes.txt'), 'mine');
    const r = await lablog(['restore', archive, '--data-dir', target]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not empty \(notes\.txt\); restore only into an empty or new directory/);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(target), ['notes.txt']);
    assert.equal(readFileSync(path.join(target, 'notes.txt'), 'utf8'), 'mine');

    // Nor over the live data dir itself, nor into a file.
    const live = await lablog(['restore', archive, '--data-dir', dir]);
    assert.equal(live.code, 2);
    assert.match(live.stderr, /is not empty/);
    const file = path.join(target, 'notes.txt');
    const onFile = await lablog(['restore', archive, '--data-dir', file]);
    assert.equal(onFile.code, 2);
    assert.match(onFile.stderr, /exists and is not a directory/);
    assert.equal(readFileSync(file, 'utf8'), 'mine');

    // An empty directory is fine.
    const empty = tempDir();
    assert.equal((await lablog(['restore', archive, '--data-dir', empty])).code, 0);
    assert.deepEqual(readdirSync(empty).sort(), ['artifacts', 'lablog.db']);
  });

  it('a truncated or corrupt archive is a clear error (exit 1) and leaves the target empty or absent', T, async () => {
    const { dir, server } = await seeded();
    const out = tempDir();
    const archives = { tar: path.join(out, 'good.tar'), tgz: path.join(out, 'good.tgz') };
    for (const a of Object.values(archives)) assert.equal((await lablog(['backup', a, '--data-dir', dir])).code, 0);
    await stop(server);

    const variant = (from: string, name: string, change: (b: Buffer) => Buffer) => {
      const file = path.join(out, name);
      writeFileSync(file, change(readFileSync(from)));
      return file;
    };
    const flip = (at: number) => (b: Buffer) => {
      b[at] ^= 0xff;
      return b;
    };
    const tarSize = statSync(archives.tar).size;
    const cases: [string, RegExp][] = [
      [variant(archives.tar, 'half.tar', (b) => b.subarray(0, Math.floor(tarSize / 2))), /is not a readable backup archive: .*Truncated input/],
      // Cut right after the artifacts: every entry whole, but the manifest (the last entry) is missing.
      [variant(archives.tar, 'no-manifest.tar', (b) => b.subarray(0, b.indexOf('lablog-backup.json'))), /has no lablog-backup\.json: the archive is incomplete/],
      [variant(archives.tgz, 'half.tgz', (b) => b.subarray(0, Math.floor(b.length / 2))), /is not a readable backup archive: .*unexpected end of file/],
      [variant(archives.tgz, 'no-trailer.tgz', (b) => b.subarray(0, b.length - 4)), /is not a readable backup archive/],
      // One byte of the 1 MiB artifact changed: tar headers and sizes are fine, the sha256 is not.
      [variant(archives.tar, 'flipped.tar', flip(Math.floor(tarSize / 2))), /is corrupt: its contents do not match the sha256 in its manifest/],
      [variant(archives.tar, 'header.tar', flip(10)), /is not a readable backup archive/],
      [variant(archives.tar, 'junk.tar', () => createHash('sha512').update('junk').digest()), /is not a readable backup archive/],
      // A path that climbs out of the staging folder (into the target): never written, and the restore fails.
      [variant(archives.tar, 'climb.tar', (b) => Buffer.concat([tarEntry('../escaped.txt', Buffer.from('x')), b])), /unsafe path '\.\.\/escaped\.txt'/],
    ];
    // In-process for each case (fast); the command's exit code and wording for two of them below.
    for (const [file, message] of cases) {
      for (const existing of [false, true]) {
        const target = existing ? tempDir() : path.join(tempDir(), 'new-dir');
        await assert.rejects(restoreBackup({ file, dataDir: target }), (err: Error) => {
          assert.ok(err instanceof BackupError && err.kind === 'failed', `${path.basename(file)}: ${err.message}`);
          assert.match(err.message, message, path.basename(file));
          return true;
        });
        if (existing) assert.deepEqual(readdirSync(target), [], `${path.basename(file)}: the empty target stays empty`);
        else assert.equal(existsSync(target), false, `${path.basename(file)}: the target it created is gone`);
      }
    }
    for (const [[file, message], existing] of [[cases[2], false], [cases[4], true]] as const) {
      const target = existing ? tempDir() : path.join(tempDir(), 'new-dir');
      const r = await lablog(['restore', file, '--data-dir', target]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /was left as it was found/);
      assert.equal(r.stdout, '');
      if (existing) assert.deepEqual(readdirSync(target), []);
      else assert.equal(existsSync(target), false);
    }

    // A zero-byte file and a missing one.
    const zero = path.join(out, 'zero.tar');
    writeFileSync(zero, '');
    await assert.rejects(restoreBackup({ file: zero, dataDir: path.join(out, 'z') }), /Unrecognized archive format/);
    assert.equal(existsSync(path.join(out, 'z')), false);
    const missing = await lablog(['restore', path.join(out, 'nope.tar'), '--data-dir', path.join(out, 'm')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no backup file/);
    assert.equal(existsSync(path.join(out, 'm')), false);
  });

  it('with LABLOG_DATABASE_URL set, backup and restore refuse (exit 2, pointing to pg_dump) and write nothing', T, async () => {
    const { dir, server } = await seeded();
    await stop(server);
    const out = tempDir();
    const archive = path.join(out, 'x.tar');
    const env = { LABLOG_DATABASE_URL: 'postgres://lablog@127.0.0.1:5432/lablog' };
    for (const args of [['backup', archive, '--data-dir', dir], ['restore', path.join(dir, 'absent.tar'), '--data-dir', path.join(out, 'r')]]) {
      const p = spawnLablog(args, { script: CLI_JS, env });
      const { code } = await p.exited;
      assert.equal(code, 2, args.join(' '));
      assert.match(p.stderr(), /LABLOG_DATABASE_URL is set: the tracking data is in PostgreSQL, .*pg_dump/);
    }
    assert.deepEqual(readdirSync(out), [], 'nothing written');
  });

  it('flags: an unknown one exits 2 with the usage; a missing file or target, or an existing archive, is refused', T, async () => {
    const { dir, server } = await seeded();
    await stop(server);
    const out = tempDir();
    for (const args of [
      ['backup', path.join(out, 'x.tar'), '--data-dir', dir, '--compress'],
      ['restore', path.join(out, 'x.tar'), '--data-dir', path.join(out, 'r'), '--force'],
    ]) {
      const r = await lablog(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /unknown option '--(compress|force)'/);
      assert.match(r.stderr, new RegExp(`usage:\\n  ${args[0]} <file>`));
    }
    assert.equal(existsSync(path.join(out, 'x.tar')), false);
    assert.deepEqual(readdirSync(out), [], 'nothing written');

    const bad: [(argv: string[]) => unknown, string[], RegExp][] = [
      [parseBackupArgs, [], /name the backup file/],
      [parseBackupArgs, ['a.tar', 'b.tar'], /one backup file only/],
      [parseBackupArgs, ['a.tar', '--data-dir'], /option '--data-dir' needs a value/],
      [parseBackupArgs, ['a.tar', '--data-dir', '--no-artifacts'], /option '--data-dir' needs a value/],
      [parseBackupArgs, ['a.tar', '--no-artifacts=yes'], /takes no value/],
      [(argv) => parseRestoreArgs(argv, {}), ['a.tar'], /name the directory to restore into with --data-dir/],
      [(argv) => parseRestoreArgs(argv, {}), ['--data-dir', 'd'], /name the backup file to restore/],
    ];
    for (const [parse, argv, message] of bad) assert.throws(() => parse(argv), message, argv.join(' '));
    assert.deepEqual(parseBackupArgs(['--no-artifacts', 'a.tgz', '--data-dir=d']), { file: 'a.tgz', dataDir: 'd', artifacts: false, help: false });
    assert.deepEqual(parseRestoreArgs(['a.tgz'], { LABLOG_DATA_DIR: '/srv/lablog' }), { file: 'a.tgz', dataDir: '/srv/lablog', help: false });

    const cases: [string[], RegExp][] = [
      [['backup', path.join(out, 'x.tar')], /name the backup file|no lablog data in/],
      [['backup', path.join(out, 'x.tar'), '--data-dir', out], /no lablog data in/],
      [['backup', path.join(out, 'no-such-dir', 'x.tar'), '--data-dir', dir], /does not exist/],
      [['restore', path.join(out, 'x.tar')], /name the directory to restore into with --data-dir/],
    ];
    for (const [args, message] of cases) {
      const r = await lablog(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(readdirSync(out), []);

    const existing = path.join(out, 'keep.tar');
    writeFileSync(existing, 'an older backup');
    const r = await lablog(['backup', existing, '--data-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists/);
    assert.equal(readFileSync(existing, 'utf8'), 'an older backup');
    assert.deepEqual(readdirSync(out), ['keep.tar'], 'no work files left beside it');

    const help = await lablog(['backup', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--no-artifacts/);
    const usage = await lablog(['--help']);
    assert.match(usage.stdout, /\n {2}backup <file>/);
    assert.match(usage.stdout, /\n {2}restore <file> --data-dir D/);
  });
});
