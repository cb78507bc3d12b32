import type { Readable } from 'node:stream';

export interface ArtifactEntry {
  /** Name relative to the listed directory (its basename). */
  name: string;
  isDir: boolean;
  /** Bytes for files, null for directories. */
  size: number | null;
}

export interface ArtifactStat {
  size: number;
  mtimeMs: number;
  /** Strong validator for conditional and range requests. */
  etag: string;
}

export interface Range {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Artifact bytes, addressed by slash-separated paths relative to the artifact root (the path part of
 * `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/...`). Every path is checked with
 * `safeRelativePath` (artifacts/paths.ts) before it reaches an implementation.
 * Writes are atomic: readers see the old file or the whole new one, never part of one.
 */
export interface ArtifactStore {
  /** Streams `body` into place; on error, abort or more than `maxBytes`, nothing is left behind. */
  put(path: string, body: Readable, maxBytes: number): Promise<{ size: number }>;
  /** null when there is no file there (a directory is not a file). */
  stat(path: string): Promise<ArtifactStat | null>;
  read(path: string, range?: Range): Readable;
  /** Entries directly under `dir`, sorted by name; null when `dir` is not a directory. */
  list(dir: string): Promise<ArtifactEntry[] | null>;
  /** Removes a file or a whole directory; false when nothing was there. */
  delete(path: string): Promise<boolean>;
  /** Removes a directory tree and reports the bytes it held (for gc); missing is not an error. */
  removeTree(dir: string): Promise<{ existed: boolean; bytes: number }>;

  /** Multipart uploads: parts are kept aside until complete() assembles them atomically into `path`. */
  createUpload(path: string): Promise<string>;
  putPart(uploadId: string, partNumber: number, body: Readable, maxBytes: number): Promise<{ etag: string; size: number }>;
  completeUpload(uploadId: string, path: string, parts: { partNumber: number; etag: string }[], maxBytes: number): Promise<{ size: number }>;
  abortUpload(uploadId: string): Promise<void>;
}
