// Staging files an earlier process left behind (a server killed mid-upload) are removed when a server
// starts; those of processes still running on the same data dir, and unfinished multipart uploads, stay.
// End to end, with real SIGKILLs: test/reliability/crash.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, it } from 'node:test';
import { createLocalArtifactStore, removeStaleUploads } from '../../server/artifacts/local.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-stale-'));
// A process that stays up for the length of the test, and the pid of one that has ended.
const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
after(() => {
  live.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

it('removes the staged files of ended processes, of this pid, and of unnamed writers; keeps live ones and multipart uploads', async () => {
  const root = path.join(dir, 'artifacts');
  createLocalArtifactStore(root);
  const staging = path.join(dir, '.artifacts-staging');
  const files = {
    ended: `${await endedPid()}-${randomUUID()}`,
    ours: `${process.pid}-${randomUUID()}`,
    unnamed: randomUUID(),
    live: `${live.pid}-${randomUUID()}`,
  };
  writeFileSync(path.join(staging, files.ended), Buffer.alloc(1000));
  writeFileSync(path.join(staging, files.ours), Buffer.alloc(200));
  writeFileSync(path.join(staging, files.unnamed), Buffer.alloc(30));
  writeFileSync(path.join(staging, files.live), Buffer.alloc(4));
  writeFileSync(path.join(staging, 'notes.txt'), 'not a staging file');
  mkdirSync(path.join(staging, 'mpu', randomUUID()));

  assert.deepEqual(await removeStaleUploads(root), { files: 3, bytes: 1230 });
  assert.deepEqual(readdirSync(staging).sort(), [files.live, 'mpu', 'notes.txt'].sort());
  assert.equal(readdirSync(path.join(staging, 'mpu')).length, 1);
  assert.deepEqual(await removeStaleUploads(root), { files: 0, bytes: 0 });
});

it('names each staged upload after the process that writes it', async () => {
  const root = path.join(dir, 'named');
  const store = createLocalArtifactStore(root);
  const staging = path.join(dir, '.named-staging');
  let seen: string[] = [];
  // A body that stops until the staging file has been looked at.
  async function* body() {
    yield Buffer.from('first half, ');
    for (let i = 0; i < 100 && seen.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
      seen = readdirSync(staging).filter((n) => n !== 'mpu');
    }
    yield Buffer.from('second half');
  }
  await store.put('run/file.txt', Readable.from(body()), 1000);
  assert.equal(seen.length, 1);
  assert.match(seen[0], new RegExp(`^${process.pid}-[0-9a-f-]{36}$`));
  assert.deepEqual(readdirSync(staging), ['mpu']);
});
