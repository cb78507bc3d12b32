import type { ArtifactStore } from '../artifacts/types.js';
import { walkFiles } from '../artifacts/walk.js';

export interface ArtifactCopy {
  files: number;
  bytes: number;
  /** Already in the target with the same size (copied by an interrupted earlier run). */
  skipped: number;
  /** Files whose size in the target differs from the source's after the copy. */
  mismatches: string[];
}

/**
 * Copies every artifact file to the target store under the same path, streaming each one; a file the
 * target already holds with the same size is skipped, so an interrupted copy resumes (a file cut off
 * mid-way is never there: both stores write atomically). The size each write reports is checked.
 */
export async function copyArtifacts(from: ArtifactStore, to: ArtifactStore, onFile: (done: ArtifactCopy) => void): Promise<ArtifactCopy> {
  const out: ArtifactCopy = { files: 0, bytes: 0, skipped: 0, mismatches: [] };
  for await (const f of walkFiles(from)) {
    const there = await to.stat(f.path);
    let size = there?.size;
    if (size === f.size) out.skipped++;
    else size = (await to.put(f.path, from.read(f.path), f.size)).size;
    if (size !== f.size) out.mismatches.push(`${f.path}: ${f.size} bytes in the source, ${size ?? 'none'} in the target`);
    out.files++;
    out.bytes += f.size;
    onFile(out);
  }
  return out;
}
