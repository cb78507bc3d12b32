import type { ArtifactStore } from '../artifacts/types.js';

export interface ArtifactCopy {
  files: number;
  bytes: number;
  /** Already in the target with the same size (copied by an interrupted earlier run). */
  skipped: number;
  /** Files whose size in the target differs from the source's after the copy. */
  mismatches: string[];
}

/** Every file under the store's root, depth first, with its size. */
async function* walk(store: ArtifactStore, dir = ''): AsyncGenerator<{ path: string; size: number }> {
  for (const e of (await store.list(dir)) ?? []) {
    const p = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDir) yield* walk(store, p);
    else yield { path: p, size: e.size ?? 0 };
  }
}

/**
 * Copies every artifact file to the target store under the same path, streaming each one; a file the
 * target already holds with the same size is skipped, so an interrupted copy resumes (a file cut off
 * mid-way is never there: both stores write atomically). Each copy's size is then checked.
 */
export async function copyArtifacts(from: ArtifactStore, to: ArtifactStore, onFile: (done: ArtifactCopy) => void): Promise<ArtifactCopy> {
  const out: ArtifactCopy = { files: 0, bytes: 0, skipped: 0, mismatches: [] };
  for await (const f of walk(from)) {
    const there = await to.stat(f.path);
    if (there?.size === f.size) out.skipped++;
    else await to.put(f.path, from.read(f.path), f.size);
    const copied = await to.stat(f.path);
    if (copied?.size !== f.size) out.mismatches.push(`${f.path}: ${f.size} bytes in the source, ${copied?.size ?? 'none'} in the target`);
    out.files++;
    out.bytes += f.size;
    onFile(out);
  }
  return out;
}
