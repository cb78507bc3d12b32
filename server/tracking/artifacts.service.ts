import type { Readable } from 'node:stream';
import { invalid, notFound } from '../errors.js';
import { joinPath, proxiedRoot, safeRelativePath } from '../artifacts/paths.js';
import type { ArtifactStore, Range } from '../artifacts/types.js';
import type { TrackingStore } from '../store/types.js';

export interface FileInfo {
  path: string;
  isDir: boolean;
  size: number | null;
}

/** Artifact operations in MLflow's terms: proxied paths under the root, and run-relative paths. */
export function createArtifactService(store: TrackingStore, artifacts: ArtifactStore, opts: { maxBytes: number; listPageSize: number }) {
  async function runRoot(runId: string): Promise<{ uri: string; root: string }> {
    const info = await store.getRunInfo(runId);
    const root = proxiedRoot(info.artifactUri);
    if (root === null) throw invalid(`The artifacts of run ${runId} live at '${info.artifactUri}', which this server does not serve`);
    return { uri: info.artifactUri, root };
  }

  async function file(rel: string) {
    const stat = await artifacts.stat(rel);
    if (!stat) throw notFound(`No artifact at '${rel}'`);
    return { path: rel, stat, open: (range?: Range) => artifacts.read(rel, range) };
  }

  return {
    maxBytes: opts.maxBytes,
    put: (rawPath: string, body: Readable) => artifacts.put(safeRelativePath(rawPath), body, opts.maxBytes),
    file: (rawPath: string) => file(safeRelativePath(rawPath)),
    async delete(rawPath: string) {
      const rel = safeRelativePath(rawPath);
      if (!(await artifacts.delete(rel))) throw notFound(`No artifact at '${rel}'`);
    },
    /** MLflow's proxied listing: entries directly under `dir`, named by basename. */
    async listProxied(rawDir: string | undefined): Promise<FileInfo[]> {
      const entries = await artifacts.list(safeRelativePath(rawDir ?? ''));
      return (entries ?? []).map((e) => ({ path: e.name, isDir: e.isDir, size: e.size }));
    },
    /** A run's listing with paths relative to its artifact root, paged. */
    async listRun(runId: string, rawDir: string | undefined, offset: number) {
      const { uri, root } = await runRoot(runId);
      const dir = safeRelativePath(rawDir ?? '');
      const entries = (await artifacts.list(joinPath(root, dir))) ?? [];
      const page = entries.slice(offset, offset + opts.listPageSize);
      const next = offset + opts.listPageSize < entries.length ? offset + opts.listPageSize : null;
      return { rootUri: uri, files: page.map((e) => ({ path: joinPath(dir, e.name), isDir: e.isDir, size: e.size })), nextOffset: next };
    },
    /** A file of a run, by its run-relative path (the UI's get-artifact and preview). */
    async runFile(runId: string, rawPath: string) {
      const { root } = await runRoot(runId);
      const rel = safeRelativePath(rawPath);
      if (rel === '') throw invalid("Missing value for required parameter 'path'.");
      return file(joinPath(root, rel));
    },
    createUpload: (rawPath: string) => artifacts.createUpload(safeRelativePath(rawPath)),
    putPart: (uploadId: string, partNumber: number, body: Readable) => artifacts.putPart(uploadId, partNumber, body, opts.maxBytes),
    completeUpload: (uploadId: string, rawPath: string, parts: { partNumber: number; etag: string }[]) =>
      artifacts.completeUpload(uploadId, safeRelativePath(rawPath), parts, opts.maxBytes),
    abortUpload: (uploadId: string) => artifacts.abortUpload(uploadId),
  };
}

export type ArtifactService = ReturnType<typeof createArtifactService>;
