/**
 * MLflow 2.10's check of a model version's `source` (handlers.py `_validate_source` and the helpers it
 * calls: `is_local_uri`, `local_file_uri_to_path`, `_validate_non_local_source_contains_relative_paths`),
 * with Python's urllib semantics written out. No I/O: the caller hands in the run's artifact URI.
 */
import path from 'node:path';
import { invalid } from '../errors.js';

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+\-.]*$/;

export interface ParsedUri {
  scheme: string;
  netloc: string;
  hostname: string | null;
  path: string;
}

/** Python's urllib.parse.urlparse, reduced to the parts the checks read. */
export function urlparse(input: string): ParsedUri {
  // Python drops ASCII tab and newlines anywhere in a URL, and surrounding C0 controls and spaces.
  let url = input.replace(/[\t\r\n]/g, '').replace(/^[\x00-\x20]+/, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    const rest = url.slice(2);
    const end = rest.search(/[/?#]/);
    netloc = end === -1 ? rest : rest.slice(0, end);
    url = end === -1 ? '' : rest.slice(end);
  }
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  const query = url.indexOf('?');
  if (query !== -1) url = url.slice(0, query);
  const hostPart = netloc.slice(netloc.lastIndexOf('@') + 1);
  const host = hostPart.startsWith('[') ? hostPart.slice(1, hostPart.indexOf(']') === -1 ? undefined : hostPart.indexOf(']')) : hostPart.split(':')[0];
  return { scheme, netloc, hostname: host ? host.toLowerCase() : null, path: url };
}

/** Python's urllib.parse.unquote_plus: '+' is a space, valid %XX runs decode as UTF-8 (bad bytes become U+FFFD). */
export function unquotePlus(s: string): string {
  const text = s.replace(/\+/g, ' ');
  return text.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Uint8Array.from(run.match(/%[0-9A-Fa-f]{2}/g)!.map((h) => parseInt(h.slice(1), 16)));
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  });
}

/**
 * mlflow.utils.uri.is_local_uri as MLflow 2.10 has it: no scheme, or a file: URI, unless a host other
 * than this one is named (a file://remote/... URI is then caught by the file URI rule).
 */
export function isLocalUri(uri: string): boolean {
  const p = urlparse(uri);
  if (p.scheme === '') return true;
  const h = p.hostname;
  if (h !== null && !(h === '.' || h.startsWith('localhost') || h.startsWith('127.0.0.1'))) return false;
  return p.scheme === 'file';
}

/** local_file_uri_to_path followed by pathlib's resolve() (made absolute against the server's working directory). */
function localPath(uri: string): string {
  const raw = uri.startsWith('file:') ? urlparse(uri).path : uri;
  return path.posix.resolve(process.cwd(), unquotePlus(raw.replace(/\+/g, '%2B')));
}

const relativePathsMessage = (source: string) =>
  `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, ` +
  'an absolute path must be provided without relative path references present. Please provide an absolute path.';

/** `..` segments (also percent-encoded, however often), NUL bytes, or a path that normalizes to another are refused. */
export function checkNoRelativePaths(original: string): void {
  let source = original;
  for (let unquoted = unquotePlus(source); unquoted !== source; unquoted = unquotePlus(source)) source = unquoted;
  const sourcePath = urlparse(source).path.replace(/\/+$/, '').replace(/\/+/g, '/');
  if (sourcePath.includes('\x00') || source.split('/').some((p) => p === '..')) throw invalid(relativePathsMessage(original));
  // pathlib's resolve() makes a relative path absolute (never equal to itself) and drops . and ..
  const resolved = sourcePath.startsWith('/') ? path.posix.normalize(sourcePath) : null;
  if (resolved !== sourcePath) throw invalid(relativePathsMessage(original));
}

/**
 * Throws MLflow's INVALID_PARAMETER_VALUE for a source the server must not register. `runArtifactUri`
 * is the artifact URI of the run named by run_id (null without a run id); a local source must lie
 * inside it, which for lablog's proxied `mlflow-artifacts:` run roots is never the case.
 */
export function validateSource(source: string, runId: string, runArtifactUri: () => Promise<string>): Promise<void> | void {
  if (isLocalUri(source)) {
    if (!runId) throw invalid(localMessage(source));
    return runArtifactUri().then((artifactUri) => {
      const resolved = localPath(source);
      if (isLocalUri(artifactUri)) {
        const root = localPath(artifactUri);
        if (resolved === root || resolved.startsWith(root === '/' ? '/' : `${root}/`)) return;
      }
      throw invalid(localMessage(resolved));
    });
  }
  if (urlparse(source).scheme === 'file') {
    throw invalid(
      `Invalid model version source: '${source}'. MLflow tracking server doesn't allow using a file URI as a model version source for security reasons. ` +
        'To disable this check, set the MLFLOW_ALLOW_FILE_URI_AS_MODEL_VERSION_SOURCE environment variable to True.',
    );
  }
  checkNoRelativePaths(source);
}

const localMessage = (source: string) =>
  `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified ` +
  'and the local path has to be contained within the artifact directory of the run specified by the run_id.';

/** `runs:/<run_id>/<path>` -> [run_id, path], as RunsArtifactRepository.parse_runs_uri reads it; null for other URIs. */
export function parseRunsUri(source: string): { runId: string; path: string } | null {
  const p = urlparse(source);
  if (p.scheme !== 'runs' || !p.path.startsWith('/')) return null;
  const [, runId, ...rest] = p.path.split('/');
  if (!runId) return null;
  return { runId, path: rest.join('/').replace(/\/+$/, '') };
}

/** `models:/<name>/<version>` or `models:/<name>@<alias>`; null for other URIs. */
export function parseModelsUri(source: string): { name: string; version?: number; alias?: string } | null {
  const p = urlparse(source);
  if (p.scheme !== 'models' || !p.path.startsWith('/')) return null;
  const body = p.path.slice(1).replace(/\/+$/, '');
  const at = body.lastIndexOf('@');
  if (at > 0 && !body.includes('/')) return { name: body.slice(0, at), alias: body.slice(at + 1) };
  const slash = body.lastIndexOf('/');
  if (slash > 0 && /^\d+$/.test(body.slice(slash + 1))) return { name: body.slice(0, slash), version: Number(body.slice(slash + 1)) };
  return null;
}
