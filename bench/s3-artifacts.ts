// Issue 13's S3 figures: one large artifact (1 GiB; BENCH_S3_MIB to change) uploaded and downloaded
// through the proxied artifact API of a lablog process whose artifacts live on S3 (a real s3rver in
// its own process on loopback), with the server's resident memory sampled throughout.
// Run: npm run build && node dist/bench/s3-artifacts.js
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { api, cleanup, startLablog, stop, tempDir } from '../test/support/lablog-process.js';
import { freshBucket, startS3rver } from '../test/support/s3.js';
import { downloadSha256, hashing, MiB, prngStream, request } from '../test/artifacts/artifacts.helpers.js';

const SIZE = Number(process.env.BENCH_S3_MIB ?? 1024) * MiB;
const RSS_LIMIT = 200 * MiB;

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

const s3 = await startS3rver();
try {
  const loc = await freshBucket('bench', s3);
  const server = await startLablog(['--port', '0', '--data-dir', tempDir()], { env: { ...s3.env, LABLOG_ARTIFACTS_URI: loc.uri } });
  const pid = server.child.pid!;
  const port = Number(new URL(server.url).port);
  const run = await api(server.url, 'runs/create', { experiment_id: '0' });
  const url = `/api/2.0/mlflow-artifacts/artifacts/0/${run.json.run.info.run_id}/artifacts/big.bin`;
  const atStart = memoryOf(pid);
  let sampled = 0;
  const sampler = setInterval(() => (sampled = Math.max(sampled, memoryOf(pid).rss)), 100);

  const sent = hashing(prngStream('s3 bench', SIZE));
  let t0 = performance.now();
  const put = await request(port, 'PUT', url, { body: sent.stream, headers: { 'content-length': SIZE } });
  const upMs = performance.now() - t0;
  if (put.status !== 200) throw new Error(`upload answered ${put.status}: ${put.text}`);
  const afterUpload = memoryOf(pid).peak;

  t0 = performance.now();
  const got = await downloadSha256(port, url);
  const downMs = performance.now() - t0;
  clearInterval(sampler);
  const end = memoryOf(pid);
  if (got.size !== SIZE || got.sha256 !== sent.digest().sha256) throw new Error('the download differs from the upload');

  console.log(`S3 artifact round trip of ${mib(SIZE)} through lablog (s3rver on loopback, ${process.version}):`);
  console.log(`  upload:   ${(upMs / 1000).toFixed(1)} s (${rate(SIZE, upMs)}), server peak RSS after it ${mib(afterUpload)}`);
  console.log(`  download: ${(downMs / 1000).toFixed(1)} s (${rate(SIZE, downMs)}), byte-exact (sha256)`);
  console.log(`  server RSS: ${mib(atStart.rss)} at start, ${mib(sampled)} highest sampled (100 ms), ${mib(end.peak)} peak (VmHWM) — limit ${mib(RSS_LIMIT)}: ${end.peak < RSS_LIMIT ? 'under' : 'OVER'}`);
  await stop(server);
} finally {
  await cleanup();
  await s3.stop();
}
