import { Readable } from 'node:stream';
import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { invalid, notFound } from '../errors.js';
import { joinPath, proxiedRoot, safeRelativePath } from '../artifacts/paths.js';
import type { ArtifactStore, Range } from '../artifacts/types.js';
import type { Permission } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';

/** The MLflow UI's upload-artifact takes at most 10 MB (handlers.upload_artifact_handler). */
export const UI_UPLOAD_MAX_BYTES = 10 * 1024 * 1024;
const UI_UPLOAD_TOO_LARGE = 'Artifact size is too large. Max size is 10MB.';

export interface FileInfo {
  path: string;
  isDir: boolean;
  size: number | null;
}

/** Artifact operations in MLflow's terms: proxied paths under the root, and run-relative paths. */
export function createArtifactService(store: TrackingStore, artifacts: ArtifactStore, access: Access, opts: { maxBytes: number; listPageSize: number }) {
  async function runRoot(caller: Caller, runId: string, need: Permission = 'READ'): Promise<{ uri: string; root: string }> {
    const info = await store.getRunInfo(runId);
    await access.experiment(caller, info.experimentId, need);
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
    async put(caller: Caller, rawPath: string, body: Readable) {
      const rel = safeRelativePath(rawPath);
      await access.artifactPath(caller, rel, 'EDIT');
      return artifacts.put(rel, body, opts.maxBytes);
    },
    async file(caller: Caller, rawPath: string) {
      const rel = safeRelativePath(rawPath);
      await access.artifactPath(caller, rel, 'READ');
      return file(rel);
    },
    async delete(caller: Caller, rawPath: string) {
      const rel = safeRelativePath(rawPath);
      await access.artifactPath(caller, rel, 'EDIT');
      if (!(await artifacts.delete(rel))) throw notFound(`No artifact at '${rel}'`);
    },
    /** MLflow's proxied listing: entries directly under `dir`, named by basename. */
    async listProxied(caller: Caller, rawDir: string | undefined): Promise<FileInfo[]> {
      const rel = safeRelativePath(rawDir ?? '');
      await access.artifactPath(caller, rel, 'READ');
      const entries = await artifacts.list(rel);
      return (entries ?? []).map((e) => ({ path: e.name, isDir: e.isDir, size: e.size }));
    },
    /** A run's listing with paths relative to its artifact root, paged. */
    async listRun(caller: Caller, runId: string, rawDir: string | undefined, offset: number) {
      const { uri, root } = await runRoot(caller, runId);
      const dir = safeRelativePath(rawDir ?? '');
      const entries = (await artifacts.list(joinPath(root, dir))) ?? [];
      const page = entries.slice(offset, offset + opts.listPageSize);
      const next = offset + opts.listPageSize < entries.length ? offset + opts.listPageSize : null;
      return { rootUri: uri, files: page.map((e) => ({ path: joinPath(dir, e.name), isDir: e.isDir, size: e.size })), nextOffset: next };
    },
    /**
     * A file under an artifact URI the caller was already allowed to read (a model version's download
     * URI: the registry checked READ on the model, which is what MLflow's auth asks for this route).
     */
    async fileUnder(artifactUri: string, rawPath: string) {
      const root = proxiedRoot(artifactUri);
      if (root === null) throw invalid(`The artifacts at '${artifactUri}' are not served by this server`);
      const rel = safeRelativePath(rawPath);
      if (rel === '') throw invalid("Missing value for required parameter 'path'.");
      return file(joinPath(root, rel));
    },
    /** A file of a run, by its run-relative path (the UI's get-artifact and preview). */
    async runFile(caller: Caller, runId: string, rawPath: string) {
      const { root } = await runRoot(caller, runId);
      const rel = safeRelativePath(rawPath);
      if (rel === '') throw invalid("Missing value for required parameter 'path'.");
      return file(joinPath(root, rel));
    },
    /**
     * The MLflow UI's upload-artifact: a file of at most 10 MB at `path` under the run's artifact
     * root, checked in MLflow's order (run, path, path safety, size, data). The body is read whole
     * (it is small) only once the caller may write to the run.
     */
    async uploadToRun(caller: Caller, q: { runId?: string; path?: string; declaredBytes?: number }, body: Readable | undefined) {
      if (!q.runId) throw invalid('Request must specify run_uuid.');
      if (!q.path) throw invalid('Request must specify path.');
      let rel: string;
      try {
        rel = q.path.includes('#') ? '' : safeRelativePath(q.path);
      } catch {
        rel = '';
      }
      if (rel === '') throw invalid('Invalid path');
      if (q.declaredBytes !== undefined && q.declaredBytes > UI_UPLOAD_MAX_BYTES) throw invalid(UI_UPLOAD_TOO_LARGE);
      const { root } = await runRoot(caller, q.runId, 'EDIT');
      const data = await readAtMost(body, UI_UPLOAD_MAX_BYTES);
      if (data === null) throw invalid(UI_UPLOAD_TOO_LARGE);
      if (data.length === 0) throw invalid('Request must specify data.');
      await artifacts.put(joinPath(root, rel), Readable.from([data]), opts.maxBytes);
    },
    async createUpload(caller: Caller, rawPath: string) {
      const rel = safeRelativePath(rawPath);
      await access.artifactPath(caller, rel, 'EDIT');
      return artifacts.createUpload(rel);
    },
    // A part is addressed by its upload id alone, which only a caller allowed to create the upload
    // was given; the path is checked again when the upload completes.
    putPart(caller: Caller, uploadId: string, partNumber: number, body: Readable) {
      access.mayWrite(caller);
      return artifacts.putPart(uploadId, partNumber, body, opts.maxBytes);
    },
    async completeUpload(caller: Caller, uploadId: string, rawPath: string, parts: { partNumber: number; etag: string }[]) {
      const rel = safeRelativePath(rawPath);
      await access.artifactPath(caller, rel, 'EDIT');
      return artifacts.completeUpload(uploadId, rel, parts, opts.maxBytes);
    },
    async abortUpload(caller: Caller, uploadId: string, rawPath: string) {
      await access.artifactPath(caller, safeRelativePath(rawPath), 'EDIT');
      return artifacts.abortUpload(uploadId);
    },
  };
}

/** The whole stream, or null as soon as it passes `max` bytes (the rest is left unread). */
async function readAtMost(body: Readable | undefined, max: number): Promise<Buffer | null> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > max) {
      body.destroy();
      return null;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export type ArtifactService = ReturnType<typeof createArtifactService>;
