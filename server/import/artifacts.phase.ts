import type { Readable } from 'node:stream';
import { joinPath, proxiedRoot, safeRelativePath } from '../artifacts/paths.js';
import { pool, warn, type ImportContext, type MappedRun } from './import.types.js';
import { isItemFailure, SourceError, type SourceClient } from './source.client.js';
import { artifactsPage } from './source.wire.js';

export interface SourceFile {
  /** Relative to the run's artifact root, as artifacts/list gives it. */
  path: string;
  size: number | null;
}

/** Every file under a source run's artifact root, walking directories with artifacts/list (paged). */
export async function listSourceArtifacts(source: SourceClient, runId: string): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const dirs = [''];
  while (dirs.length > 0) {
    const dir = dirs.shift()!;
    let token: string | undefined;
    do {
      const page = await source.get('/api/2.0/mlflow/artifacts/list', artifactsPage, { run_id: runId, path: dir || undefined, page_token: token });
      for (const f of page.files) {
        if (f.is_dir) dirs.push(f.path);
        else out.push({ path: f.path, size: f.file_size ?? null });
      }
      token = page.next_page_token || undefined;
    } while (token);
  }
  return out;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/**
 * The bytes of one source artifact: through the proxied-artifact route when the run's artifacts are
 * `mlflow-artifacts:` (or its http form), else (or when the server does not serve that route) through
 * the UI's /get-artifact, which reads any artifact store the server itself can reach.
 */
export async function downloadSourceArtifact(source: SourceClient, runId: string, artifactUri: string, path: string): Promise<Readable> {
  const proxied =
    /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri)?.[1] ??
    /^https?:\/\/[^/]+\/api\/2\.0\/mlflow-artifacts\/artifacts\/(.*)$/.exec(artifactUri)?.[1];
  if (proxied !== undefined) {
    try {
      return await source.download(`/api/2.0/mlflow-artifacts/artifacts/${encodePath(joinPath(proxied.replace(/^\/+|\/+$/g, ''), path))}`);
    } catch (err) {
      if (!(err instanceof SourceError) || (err.status !== 404 && err.status !== 503)) throw err;
    }
  }
  return source.download('/get-artifact', { path, run_uuid: runId });
}

/**
 * Phase 4: artifacts, byte for byte, at the same paths under the run's lablog artifact root.
 * Resume rule: a file already stored with the size the source lists is skipped; any other is
 * downloaded again and written atomically (the artifact store renames a complete temp file into place),
 * so a file cut by an interruption is never left half-written.
 */
export async function importArtifacts(ctx: ImportContext, runs: MappedRun[]): Promise<void> {
  let done = 0;
  await pool(runs, ctx.options.concurrency ?? 4, async (run) => {
    const root = proxiedRoot(run.artifactUri);
    let files: SourceFile[] = [];
    try {
      files = await listSourceArtifacts(ctx.source, run.runId);
    } catch (err) {
      if (!isItemFailure(err)) throw err;
      warn(ctx, `run ${run.runId}: artifacts not copied: ${err.message}`);
    }
    if (root === null) {
      if (files.length > 0) warn(ctx, `run ${run.runId}: ${files.length} artifact(s) not copied: its lablog artifact URI ${run.artifactUri} is not in lablog's artifact store`);
    } else {
      for (const f of files) await copyFile(ctx, run, root, f);
    }
    ctx.options.onProgress?.({ phase: 'artifacts', done: ++done, total: runs.length, detail: `${ctx.summary.artifactFiles.created} files copied` });
  });
}

async function copyFile(ctx: ImportContext, run: MappedRun, root: string, f: SourceFile): Promise<void> {
  let rel: string;
  try {
    rel = safeRelativePath(f.path);
  } catch {
    warn(ctx, `run ${run.runId}: artifact '${f.path}' skipped: not a safe relative path`);
    return;
  }
  const target = joinPath(root, rel);
  const have = await ctx.artifacts.stat(target);
  if (have && f.size !== null && have.size === f.size) {
    ctx.summary.artifactFiles.present++;
    ctx.summary.artifactBytes.present += have.size;
    return;
  }
  // A body cut mid-way fails the put (nothing is left) and is fetched again.
  for (let attempt = 1; ; attempt++) {
    try {
      const body = await downloadSourceArtifact(ctx.source, run.runId, run.source.info.artifact_uri, rel);
      const { size } = await ctx.artifacts.put(target, body, Number.MAX_SAFE_INTEGER);
      if (f.size !== null && size !== f.size) warn(ctx, `run ${run.runId}: artifact '${rel}' is ${size} bytes, the source listed ${f.size}`);
      ctx.summary.artifactFiles.created++;
      ctx.summary.artifactBytes.created += size;
      return;
    } catch (err) {
      if (err instanceof SourceError && !isItemFailure(err)) throw err;
      if (err instanceof SourceError || attempt >= 3) {
        warn(ctx, `run ${run.runId}: artifact '${rel}' not copied: ${(err as Error).message}`);
        return;
      }
    }
  }
}
