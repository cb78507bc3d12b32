// `npm run build && node dist/bench/crash.js [--kills 50] [--writers 16] [--runs 8] [--seed N]`: the crash
// scenario of test/reliability/crash.test.ts, bigger. A server child process on a fresh data dir takes
// concurrent writers (log-batch, some with an Idempotency-Key and retried after a kill, plus
// log-parameter, set-tag and artifact uploads) and is killed with SIGKILL again and again, in turn: after
// a number of acknowledged requests, as an answer arrives, and inside an upload. It prints each kill and
// what was checked afterwards (over HTTP, on disk and in the SQLite rows), and exits 1 on any violation.
import { performance } from 'node:perf_hooks';
import { describeTally, runCrashScenario } from '../test/support/crash-scenario.js';
import { cleanup } from '../test/support/lablog-process.js';
import { cliArg, machineInfo } from './lib.js';

function option(name: string, fallback: number): number {
  const given = cliArg(name);
  if (given === undefined) return fallback;
  const v = Number(given);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} needs a whole number, got '${given}'`);
  return v;
}

const seed = option('seed', Math.floor(Math.random() * 2 ** 31));
const kills = option('kills', 50);
const writers = option('writers', 16);
const runs = option('runs', 8);

console.log(machineInfo());
console.log(`crash: seed ${seed}, ${kills} kills, ${writers} writers on ${runs} runs (repeat with --seed ${seed})`);
const t0 = performance.now();
try {
  const report = await runCrashScenario({
    seed,
    writers,
    runs,
    pointsPerBatch: 50,
    uploadBytes: [100_000, 1_000_000],
    opsAfterLastKill: 10,
    kills,
    acksPerKill: [10, 200],
    killKinds: ['acks', 'answer-lost', 'upload'],
    log: (line) => console.log(line),
  });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\nchecked after ${report.kills.length} kills and restarts (${seconds.toFixed(1)} s):`);
  console.log(`- ${report.ops} operations, ${report.points} metric points, over HTTP and in the SQLite rows`);
  for (const line of describeTally(report.tally)) console.log(`- ${line}`);
  console.log(`- kills with requests in flight: ${report.kills.filter((k) => k.inFlight > 0).length} of ${report.kills.length}`);
  console.log(`- staging files left by the kills, all removed by the next start: ${report.kills.reduce((n, k) => n + k.leftovers.length, 0)}`);
  console.log(`- PRAGMA integrity_check: ${report.integrity}`);
  if (report.violations.length > 0) {
    console.log(`\n${report.violations.length} VIOLATIONS:`);
    for (const v of report.violations) console.log(`  ${v}`);
    process.exitCode = 1;
  } else {
    console.log('\nno violations: every acknowledged write present once, nothing half-written, no artifact truncated');
  }
} finally {
  await cleanup();
}
