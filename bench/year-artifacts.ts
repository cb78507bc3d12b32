/**
 * The generator's artifact writer (bench/year.ts), a worker thread: creating a million files is mostly
 * waiting on the file system, done here beside the database writes instead of between them. Each
 * message is a committed batch; once its files exist, the progress file moves past it, so a restart
 * never skips a batch whose files were not all made.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { proxiedRoot } from '../server/artifacts/paths.js';
import type { Artifact } from './year-runs.js';

export interface ArtifactBatch {
  dataDir: string;
  progressFile: string;
  nextRun: number;
  runs: { artifactUri: string; list: Artifact[] }[];
}

/** Sparse files: the size a listing shows, no bytes on disk. A rerun truncates them to the same size. */
function writeArtifacts(dataDir: string, artifactUri: string, list: Artifact[]): void {
  const root = path.join(dataDir, 'artifacts', proxiedRoot(artifactUri)!);
  const made = new Set<string>();
  for (const a of list) {
    const file = path.join(root, a.path);
    const dir = path.dirname(file);
    if (!made.has(dir)) mkdirSync(dir, { recursive: true });
    made.add(dir);
    const fd = openSync(file, 'w');
    ftruncateSync(fd, a.bytes);
    closeSync(fd);
  }
}

parentPort?.on('message', (b: ArtifactBatch) => {
  for (const r of b.runs) writeArtifacts(b.dataDir, r.artifactUri, r.list);
  writeFileSync(`${b.progressFile}.tmp`, JSON.stringify({ nextRun: b.nextRun }));
  renameSync(`${b.progressFile}.tmp`, b.progressFile);
  parentPort!.postMessage(b.nextRun);
});
