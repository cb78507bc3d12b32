// A lablog process whose artifacts live on S3 (a real s3rver in its own process): chosen by
// LABLOG_ARTIFACTS_URI or --artifacts-uri with the AWS_* variables, reported by /health (a probe of
// the bucket), used by the SDK (streamed and multipart uploads), emptied by `lablog gc`, and holding
// its memory while a 128 MiB artifact streams through it both ways.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Lablog } from 'lablog-client';
import { api, CLI_JS, cleanup, runToExit, startLablog, stop, tempDir } from '../support/lablog-process.js';
import { freshBucket, startS3rver, type S3Server } from '../support/s3.js';
import { bucketKeys } from '../support/stored-artifacts.js';
import { downloadSha256, hashing, MiB, prngStream, request } from './artifacts.helpers.js';

const T = { timeout: 180_000 };
let s3: S3Server;
before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await cleanup();
  await s3.stop();
});
afterEach(() => cleanup());


const healthJson = async (url: string) => (await fetch(`${url}/health`, { headers: { accept: 'application/json' } })).json();

/** Peak and current resident memory of a process, from /proc (bytes). */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { peak: kib('VmHWM'), now: kib('VmRSS') };
}

describe('a lablog process with its artifacts on S3', () => {
  it('takes LABLOG_ARTIFACTS_URI, reports the bucket in /health, and serves SDK uploads from it', T, async () => {
    const loc = await freshBucket('team/artifacts', s3);
    const dataDir = tempDir();
    const server = await startLablog(['--port', '0', '--data-dir', dataDir], { env: { ...s3.env, LABLOG_ARTIFACTS_URI: loc.uri } });
    assert.equal(server.listening.artifacts, `s3://${loc.bucket}/team/artifacts`);
    assert.equal(server.listening.storage, 'writable');
    const health = await healthJson(server.url);
    assert.equal(health.storage.writable, true, JSON.stringify(health));
    // Free space is the data directory's: a bucket has no such figure.
    assert.equal(typeof health.storage.free_bytes, 'number');

    const lab = new Lablog({ url: server.url, handleExit: false, captureSource: false, spoolDir: path.join(tempDir(), 'spool') });
    const run = await lab.startRun({ experiment: 'on-s3' });
    const file = path.join(tempDir(), 'weights.bin');
    const weights = Buffer.alloc(3 * MiB + 17, 0x5a);
    writeFileSync(file, weights);
    await run.logArtifact(file, 'ckpt');
    await run.logArtifact(new TextEncoder().encode('{"acc":0.9}'), 'eval/summary.json');
    const root = run.info.artifact_uri!.replace(/^mlflow-artifacts:\//, '');
    const mpuPath = `${root}/big/parts.bin`;
    const mpu = await lab.client.artifacts.mpuCreate(mpuPath, { num_parts: 2 });
    const parts = [];
    for (const [i, c] of mpu.credentials.entries()) parts.push({ part_number: c.part_number, etag: await lab.client.artifacts.uploadPart(c.url, `part${i}-`) });
    await lab.client.artifacts.mpuComplete(mpuPath, { upload_id: mpu.upload_id, parts });
    await run.end();

    assert.deepEqual(await bucketKeys(loc, `team/artifacts/${root}/`), [
      `team/artifacts/${root}/big/parts.bin`,
      `team/artifacts/${root}/ckpt/weights.bin`,
      `team/artifacts/${root}/eval/summary.json`,
    ]);
    assert.deepEqual(await bucketKeys(loc, 'team/.artifacts-staging/mpu/'), [], 'the finished upload left no parts behind');
    const got = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${root}/ckpt/weights.bin`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(weights));
    assert.equal(await (await lab.client.artifacts.download(mpuPath)).text(), 'part0-part1-');
    const list = await api(server.url, `artifacts/list?run_id=${run.id}`);
    assert.deepEqual(list.json.files, [
      { path: 'big', is_dir: true },
      { path: 'ckpt', is_dir: true },
      { path: 'eval', is_dir: true },
    ]);
    assert.equal((await stop(server)).code, 0);
  });

  it('--artifacts-uri wins over the variable; a malformed URI stops the start with exit 2', T, async () => {
    const loc = await freshBucket('flag', s3);
    const server = await startLablog(['--port', '0', '--data-dir', tempDir(), '--artifacts-uri', loc.uri], { env: { ...s3.env, LABLOG_ARTIFACTS_URI: 's3://some-other-bucket/x' } });
    assert.equal(server.listening.artifacts, `s3://${loc.bucket}/flag`);
    await stop(server);
    for (const bad of ['s3://', 'file:///tmp/x', 's3://UPPER/x', 's3://b/../x']) {
      const r = await runToExit(['--port', '0', '--data-dir', tempDir(), '--artifacts-uri', bad], { env: s3.env });
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /artifactsUri: artifacts URI must look like s3:\/\/bucket\/prefix/, bad);
    }
  });

  it('/health turns unwritable with the reason when the bucket cannot be reached, and writes answer 503', T, async () => {
    const own = await startS3rver();
    try {
      const loc = await freshBucket('artifacts', own);
      const server = await startLablog(['--port', '0', '--data-dir', tempDir()], { env: { ...own.env, LABLOG_ARTIFACTS_URI: loc.uri } });
      const run = await api(server.url, 'runs/create', { experiment_id: '0' });
      await own.stop();
      const put = await request(Number(new URL(server.url).port), 'PUT', `/api/2.0/mlflow-artifacts/artifacts/0/${run.json.run.info.run_id}/artifacts/a.txt`, { body: 'a' });
      assert.equal(put.status, 503, put.text);
      assert.equal(put.json.error_code, 'TEMPORARILY_UNAVAILABLE');
      const health = await healthJson(server.url);
      assert.equal(health.storage.writable, false);
      assert.match(health.storage.reason, /^the artifact bucket '.+' cannot be reached \(ECONNREFUSED\)$/);
      await stop(server);
    } finally {
      await own.stop();
    }
  });

  it('lablog gc removes a deleted run\'s objects from the bucket and counts their bytes', T, async () => {
    const loc = await freshBucket('gc', s3);
    const dataDir = tempDir();
    const env = { ...s3.env, LABLOG_ARTIFACTS_URI: loc.uri };
    const server = await startLablog(['--port', '0', '--data-dir', dataDir], { env });
    const port = Number(new URL(server.url).port);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await api(server.url, 'runs/create', { experiment_id: '0' });
      ids.push(run.json.run.info.run_id);
      for (const [name, size] of [['model.bin', 1000], ['plots/loss.png', 234]] as const) {
        const put = await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/0/${ids[i]}/artifacts/${name}`, { body: Buffer.alloc(size, i) });
        assert.equal(put.status, 200, put.text);
      }
    }
    assert.equal((await api(server.url, 'runs/delete', { run_id: ids[0] })).status, 200);
    await stop(server);

    const gc = await runToExit(['gc', '--data-dir', dataDir, '--run-ids', ids[0]], { env, script: CLI_JS });
    assert.equal(gc.code, 0, gc.stderr);
    const out = gc.lines.map((l) => l.raw).join('\n');
    assert.match(out, new RegExp(`removed run ${ids[0]} \\(experiment 0\\), 1234 bytes`));
    assert.deepEqual(await bucketKeys(loc, `gc/0/${ids[0]}/`), []);
    assert.deepEqual(await bucketKeys(loc, `gc/0/${ids[1]}/`), [`gc/0/${ids[1]}/artifacts/model.bin`, `gc/0/${ids[1]}/artifacts/plots/loss.png`]);
  });

  // A store that held the artifact in memory would grow by at least its size; lablog's working set
  // (a few 5 MiB parts, the SDK, garbage not yet collected) is about 50-65 MiB at any size: 1 GiB peaks
  // at 167 MiB RSS (bench/s3-artifacts.ts, README). 128 MiB keeps the two apart and the test short.
  it('streams a 128 MiB artifact in and out with the server\'s resident memory growing by less than the file', T, async () => {
    const loc = await freshBucket('rss', s3);
    const server = await startLablog(['--port', '0', '--data-dir', tempDir()], { env: { ...s3.env, LABLOG_ARTIFACTS_URI: loc.uri } });
    const port = Number(new URL(server.url).port);
    const run = await api(server.url, 'runs/create', { experiment_id: '0' });
    const rel = `0/${run.json.run.info.run_id}/artifacts/big.bin`;
    // A warm-up upload of one part: the S3 client, its sockets and buffers exist before the baseline.
    assert.equal((await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${rel}.warm`, { body: prngStream('warm', 6 * MiB) })).status, 200);
    const baseline = memoryOf(server.child.pid!).peak;

    const SIZE = 128 * MiB;
    const sent = hashing(prngStream('rss', SIZE));
    const put = await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${rel}`, { body: sent.stream, headers: { 'content-length': SIZE } });
    assert.equal(put.status, 200, put.text);
    const got = await downloadSha256(port, `/api/2.0/mlflow-artifacts/artifacts/${rel}`);
    assert.equal(got.size, SIZE);
    assert.equal(got.sha256, sent.digest().sha256);
    const growth = memoryOf(server.child.pid!).peak - baseline;
    assert.ok(growth < (SIZE * 3) / 4, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB for a ${SIZE / MiB} MiB artifact`);
    await stop(server);
  });
});
