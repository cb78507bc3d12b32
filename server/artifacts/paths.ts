import { invalid } from '../errors.js';

const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 1024;

/**
 * Checks an artifact path taken from a URL or query (already percent-decoded once) and returns it in
 * canonical form ("a/b/c", no leading or trailing slash; "" for the root). Anything that could step
 * outside the artifact root, or that only makes sense as an attack, is refused: `..` segments, absolute
 * paths, backslashes, NUL and other control characters, still-encoded separators or dots (`%2e`, `%2f`,
 * `%5c`: a double-encoded traversal), and over-long names.
 */
export function safeRelativePath(raw: string, what = 'path'): string {
  // A request path is refused in MLflow's words (validate_path_is_safe: exactly "Invalid path"); the
  // reason is kept for paths lablog reads from its own records.
  const refuse = (why: string) => invalid(what === 'path' ? 'Invalid path' : `Invalid ${what} '${raw.slice(0, 200)}': ${why}`);
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw refuse('control characters are not allowed');
  if (raw.includes('\\')) throw refuse('backslashes are not allowed');
  if (/%(2e|2f|5c|00)/i.test(raw)) throw refuse('encoded dots, slashes or NUL are not allowed');
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) throw refuse('absolute paths are not allowed');
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) throw refuse(`longer than ${MAX_PATH_BYTES} bytes`);
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  for (const s of segments) {
    if (s === '..') throw refuse("'..' is not allowed");
    if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) throw refuse(`a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return segments.join('/');
}

/** Joins canonical relative paths. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/**
 * The artifact-root-relative directory of a run, from its artifact URI
 * (`mlflow-artifacts:/1/<run>/artifacts` -> `1/<run>/artifacts`); null for URIs the server does not
 * proxy (a run logged with its own artifact location elsewhere).
 */
export function proxiedRoot(artifactUri: string): string | null {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (m) return safeRelativePath(m[1], 'artifact URI');
  const http = /^https?:\/\/[^/]+\/api\/2\.0\/mlflow-artifacts\/artifacts\/(.*)$/.exec(artifactUri);
  return http ? safeRelativePath(decodeURIComponent(http[1]), 'artifact URI') : null;
}
