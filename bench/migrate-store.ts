// `lablog migrate-store` throughput: fills a fresh SQLite data dir through the store's bulk path (RUNS
// runs of 20 params, 10 tags and KEYS metric keys of POINTS points each), then times the command as a
// user runs it, copy and verification, into a fresh PostgreSQL database. `node dist/bench/migrate-store.js
// [--runs=N] [--keys=K] [--points=P] [postgres://...]` after `npm run build`; without a URL it starts a
// throwaway cluster as the tests do (Debian's postgresql package installed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../server/store/sqlite/index.js';
import { createDatabase, dropDatabase, postgresSkip } from '../test/support/postgres.js';
import { log, machineInfo } from './lib.js';

const argv = process.argv.slice(2);
const flags = new Map(argv.map((a) => /^--([a-z]+)=(\d+)$/.exec(a)).filter((m) => m !== null).map((m) => [m![1], Number(m![2])]));
const RUNS = flags.get('runs') ?? 1000;
const KEYS = flags.get('keys') ?? 5;
const POINTS = flags.get('points') ?? 1000;
const CLI_JS = fileURLToPath(new URL('../server/cli.js', import.meta.url));
const T0 = 1_700_000_000_000;

async function fill(dir: string): Promise<void> {
  const store = openSqliteStore(dir);
  const experimentId = await store.createExperiment({ name: 'migrate', artifactLocation: null, tags: [], now: T0 });
  const steps = Float64Array.from({ length: POINTS }, (_, i) => i);
  const timestamps = Float64Array.from({ length: POINTS }, (_, i) => T0 + i * 1000);
  for (let r = 0; r < RUNS; r++) {
    const runUuid = r.toString(16).padStart(32, '0');
    await store.createRun({ runUuid, experimentId, userId: 'bench', runName: `run-${r}`, startTime: T0 + r, tags: [], artifactUri: (loc) => `${loc}/${runUuid}/artifacts` });
    const params = Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: String((r * 31 + i) % 97) }));
    const tags = Array.from({ length: 10 }, (_, i) => ({ key: `t${i}`, value: `v${r % (i + 2)}` }));
    await store.logBatch(runUuid, { metrics: [], params, tags });
    for (let k = 0; k < KEYS; k++) {
      const values = Float64Array.from({ length: POINTS }, (_, i) => 1 / (1 + i + r + k) + 0.01 * Math.sin(i));
      await store.replaceMetricHistory(runUuid, `m${k}`, { steps, timestamps, values });
    }
  }
  await store.close();
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-migrate-bench-'));
let url = argv.find((a) => /^postgres(ql)?:\/\//.test(a));
const owned = url === undefined;
try {
  if (owned) {
    const skip = postgresSkip();
    if (skip) throw new Error(`no PostgreSQL to migrate into: ${skip}`);
    url = await createDatabase();
  }
  let t = performance.now();
  await fill(dir);
  const points = RUNS * KEYS * POINTS;
  log(`migrate-store: filled ${RUNS} runs, ${points.toLocaleString('en-US')} points in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const r = spawnSync(process.execPath, [CLI_JS, 'migrate-store', '--from', dir, '--to', url!], { encoding: 'utf8' });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`migrate-store exited ${r.status}: ${r.stderr}${r.stdout}`);
  log(r.stdout.trim());
  log(`migrate-store: ${RUNS} runs, ${points.toLocaleString('en-US')} points copied and verified in ${seconds.toFixed(1)} s (${Math.round(points / seconds).toLocaleString('en-US')} points/s, ${Math.round(RUNS / seconds)} runs/s); ${machineInfo()}`);
} finally {
  if (owned && url) await dropDatabase(url);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
