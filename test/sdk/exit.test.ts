// A training script's runs end with the process: FINISHED when the script simply ends, KILLED (with
// every point logged before the signal on the server) on SIGTERM or SIGINT, FAILED on an uncaught
// exception or an unhandled rejection. The script is a real child process importing 'lablog-client'.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { api, cleanup, spawnLablog, startLablog, stop, tempDir } from '../support/lablog-process.js';

const SDK_DIR = fileURLToPath(new URL('../../../client-sdk', import.meta.url));

const SCRIPT = `
import { Lablog } from 'lablog-client';
const mode = process.argv[2];
const lab = new Lablog({ flushIntervalMs: 50, captureSource: false });
lab.on('error', () => {}); // points logged after the run ended are dropped: expected here
const run = await lab.startRun({ experiment: 'exit-test', name: mode });
console.log(JSON.stringify({ runId: run.id }));
let n = 0;
// log() and the count line happen in one synchronous stretch: a signal is handled between bursts.
const burst = (k) => {
  for (let i = 0; i < k; i++, n++) run.log({ x: n, y: -n }, { step: n });
  process.stdout.write(JSON.stringify({ count: n }) + '\\n');
};
switch (mode) {
  case 'finish':
    burst(3000);
    break; // nothing keeps the process alive: it ends normally
  case 'throw':
    burst(1500);
    setTimeout(() => { throw new Error('boom from the script'); }, 5);
    break;
  case 'reject':
    burst(1500);
    Promise.reject(new Error('rejected in the script'));
    break;
  case 'signal': {
    const tick = () => { burst(10); setTimeout(tick, 1); };
    tick();
    break;
  }
}
`;

let server: Awaited<ReturnType<typeof startLablog>>;
let script = '';

before(async () => {
  server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
  // The script imports 'lablog-client' as a user's would: through node_modules next to it.
  const dir = tempDir();
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(SDK_DIR, path.join(dir, 'node_modules', 'lablog-client'), 'dir');
  script = path.join(dir, 'train.mjs');
  writeFileSync(script, SCRIPT);
});
after(async () => {
  if (server) await stop(server);
  await cleanup();
});

function runScript(mode: string) {
  const child = spawnLablog([mode], { script, env: { LABLOG_TRACKING_URI: server.url } });
  const runId = child.waitForLine((l) => typeof l.runId === 'string', 'the run id').then((l) => l.runId as string);
  return { ...child, runId };
}

async function runInfo(runId: string) {
  const r = await api(server.url, `runs/get?run_id=${runId}`);
  assert.equal(r.status, 200, r.text);
  return r.json.run.info as { status: string; end_time?: number };
}

/** The steps of metric `key`, sorted; asserted to be 0..n-1 with none twice. Returns n. */
async function contiguousSteps(runId: string, key: string): Promise<number> {
  const r = await api(server.url, `metrics/get-history?run_id=${runId}&metric_key=${key}&max_results=25000`);
  assert.equal(r.status, 200, r.text);
  const steps = ((r.json.metrics ?? []) as { step: number }[]).map((m) => m.step).sort((a, b) => a - b);
  steps.forEach((s, i) => assert.equal(s, i, `step ${i} missing or duplicated (found ${s})`));
  return steps.length;
}

const lastCount = (lines: Record<string, any>[]) => Math.max(0, ...lines.filter((l) => typeof l.count === 'number').map((l) => l.count as number));

describe('runs end with the process', () => {
  test('the script ends normally: FINISHED, every point there', async () => {
    const p = runScript('finish');
    const exit = await p.exited;
    assert.equal(exit.code, 0, p.stderr());
    const runId = await p.runId;
    const info = await runInfo(runId);
    assert.equal(info.status, 'FINISHED');
    assert.ok((info.end_time ?? 0) > 0);
    assert.equal(await contiguousSteps(runId, 'x'), 3000);
    assert.equal(await contiguousSteps(runId, 'y'), 3000);
  });

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    test(`${signal} in the middle of logging: KILLED, every point logged before the signal there`, async () => {
      const p = runScript('signal');
      const runId = await p.runId;
      const seen = await p.waitForLine((l) => typeof l.count === 'number' && l.count >= 500, '500 points logged');
      const before = seen.count as number;
      p.child.kill(signal);
      const exit = await p.exited;
      assert.ok(exit.signal === signal || exit.code === code, `exit ${JSON.stringify(exit)}; stderr: ${p.stderr()}`);
      const info = await runInfo(runId);
      assert.equal(info.status, 'KILLED');
      assert.ok((info.end_time ?? 0) > 0);
      const n = await contiguousSteps(runId, 'x');
      assert.ok(n >= before, `${n} points on the server, ${before} logged before the signal`);
      assert.ok(n <= lastCount(p.lines), `${n} points on the server, only ${lastCount(p.lines)} logged`);
      assert.equal(await contiguousSteps(runId, 'y'), n);
    });
  }

  for (const mode of ['throw', 'reject'] as const) {
    test(`an ${mode === 'throw' ? 'uncaught exception' : 'unhandled rejection'}: FAILED, the error printed, exit 1`, async () => {
      const p = runScript(mode);
      const exit = await p.exited;
      assert.equal(exit.code, 1, p.stderr());
      assert.match(p.stderr(), mode === 'throw' ? /boom from the script/ : /rejected in the script/);
      const runId = await p.runId;
      assert.equal((await runInfo(runId)).status, 'FAILED');
      assert.equal(await contiguousSteps(runId, 'x'), 1500);
    });
  }
});
