import { joinPath } from './paths.js';
import type { ArtifactStore } from './types.js';

/** Every file under `root` in a store, depth first, by path relative to `root`, with its size. */
export async function* walkFiles(store: ArtifactStore, root = '', dir = ''): AsyncGenerator<{ path: string; size: number }> {
  for (const e of (await store.list(joinPath(root, dir))) ?? []) {
    const rel = joinPath(dir, e.name);
    if (e.isDir) yield* walkFiles(store, root, rel);
    else yield { path: rel, size: e.size ?? 0 };
  }
}
