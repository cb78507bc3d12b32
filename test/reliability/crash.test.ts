// Issue #12, crash: a server child process on one data dir, 8 concurrent writers (log-batch, plus some
// log-parameter, set-tag and artifact uploads), SIGKILL at seeded moments and a restart after each.
// Afterwards every acknowledged write is there exactly once, nothing is half-written, no artifact is
// truncated, no staging file outlives a restart, and PRAGMA integrity_check says ok.
// Reproduce a run with LABLOG_CRASH_SEED=<the seed it prints>.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { describeTally, runCrashScenario } from '../support/crash-scenario.js';
import { cleanup } from '../support/lablog-process.js';

after(cleanup);

const seed = Number(process.env.LABLOG_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

it('10 SIGKILLs under 8 concurrent writers: acknowledged writes survive once, nothing half-written or truncated, integrity ok', { timeout: 180_000 }, async (t) => {
  t.diagnostic(`seed ${seed} (LABLOG_CRASH_SEED=${seed} repeats these kill points)`);
  const report = await runCrashScenario({
    seed,
    writers: 8,
    runs: 4,
    pointsPerBatch: 20,
    uploadBytes: [200_000, 400_000],
    opsAfterLastKill: 5,
    kills: 10,
    acksPerKill: [20, 80],
    // Kills 1, 4, 7, 10 after a number of acks; 2, 5, 8 as an answer arrives; 3, 6, 9 inside an upload.
    killKinds: ['acks', 'answer-lost', 'upload'],
    log: (line) => t.diagnostic(line),
  });
  for (const line of describeTally(report.tally)) t.diagnostic(line);
  t.diagnostic(`${report.ops} operations, ${report.points} metric points checked over HTTP and in the rows`);

  assert.deepEqual(report.violations, [], `seed ${seed}`);
  assert.equal(report.integrity, 'ok');
  assert.equal(report.kills.length, 10);
  // The kills landed while writes were in flight, so the checks above had unacknowledged writes to judge.
  for (const [i, k] of report.kills.entries()) assert.ok(k.inFlight > 0, `kill ${i + 1} found no request in flight`);
  // Kills inside uploads left half-received staging files; the restarts removed them (a violation otherwise).
  const midUpload = report.kills.filter((k) => k.kind === 'upload');
  assert.equal(midUpload.length, 3);
  assert.ok(midUpload.every((k) => k.leftovers.length > 0), 'each kill inside an upload left its staging file behind');
  // Kills as an answer arrived: those writes were committed and never acknowledged. A keyed batch's
  // retry must have been answered as a replay (and, checked above, not written twice); any other
  // request must be there whole.
  const lost = report.kills.filter((k) => k.kind === 'answer-lost');
  assert.deepEqual(lost.map((k) => k.keyed), [true, false, true]);
  assert.ok(report.tally.batch.replayed >= 2, `${report.tally.batch.replayed} replays`);
  assert.ok(Object.values(report.tally).some((x) => x.unknownWhole > 0), 'an unacknowledged write found whole');
  assert.ok(report.tally.batch.acked > 100 && report.tally.upload.acked > 0 && report.tally.param.acked > 0 && report.tally.tag.acked > 0);
});
