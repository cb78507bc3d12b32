import type { LablogClient } from './client.js';
import { isRetryable, LablogApiError } from './errors.js';
import { retryTransient } from './util.js';

type FsPromises = typeof import('node:fs/promises');

const CHUNK = 1 << 20;

/** Node's fs, loaded only when a local path is uploaded (a variable specifier keeps bundlers away). */
async function nodeFs(): Promise<FsPromises> {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof p?.versions?.node !== 'string') throw new Error('lablog-client: uploading a local path needs Node; pass the bytes (Uint8Array) instead');
  const spec = 'node:fs/promises';
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ spec)) as FsPromises;
}

/**
 * The proxied path of a run's artifact root: `mlflow-artifacts:/1/abc/artifacts` → `1/abc/artifacts`, or
 * the suffix after `/api/2.0/mlflow-artifacts/artifacts/` of an http(s) URI. Other schemes (s3:, file:)
 * are not served through the tracking server.
 */
export function proxiedRoot(artifactUri: string | undefined): string {
  if (!artifactUri) throw new LablogApiError('INVALID_STATE', 0, 'the run has no artifact_uri');
  if (artifactUri.startsWith('mlflow-artifacts:')) {
    let rest = artifactUri.slice('mlflow-artifacts:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, ''); // drop an authority
    return trimSlashes(rest);
  }
  const marker = '/api/2.0/mlflow-artifacts/artifacts/';
  const at = artifactUri.indexOf(marker);
  if (/^https?:/.test(artifactUri) && at >= 0) return trimSlashes(artifactUri.slice(at + marker.length));
  throw new LablogApiError(
    'INVALID_PARAMETER_VALUE',
    0,
    `artifact_uri '${artifactUri}' is not served through the tracking server (mlflow-artifacts:); lablog-client uploads proxied artifacts only`,
  );
}

function trimSlashes(p: string): string {
  return p.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
}

export function joinPath(...parts: (string | undefined)[]): string {
  return parts.map((p) => trimSlashes(p ?? '')).filter((p) => p !== '').join('/');
}

export function baseName(p: string): string {
  const parts = trimSlashes(p).split('/');
  return parts[parts.length - 1];
}

/**
 * PUTs a body to a proxied path; failures worth retrying (network, 408, 429, 5xx: a PUT of the same bytes
 * is idempotent) are retried with backoff for up to `retryForMs`. `body()` makes a fresh body for each
 * attempt (a stream cannot be sent twice).
 */
function putWithRetry(client: LablogClient, path: string, body: () => Promise<{ data: BodyInit; done(): Promise<void> }>, retryForMs: number): Promise<void> {
  const attempt = async () => {
    const b = await body();
    try {
      await client.artifacts.upload(path, b.data);
    } finally {
      await b.done();
    }
  };
  return retryTransient(attempt, retryForMs, isRetryable);
}

export async function uploadBytes(client: LablogClient, path: string, bytes: Uint8Array, retryForMs: number): Promise<void> {
  await putWithRetry(client, path, async () => ({ data: bytes as unknown as BodyInit, done: async () => undefined }), retryForMs);
}

/** Streams a local file (Node) to a proxied path in 1 MiB chunks: never the whole file in memory. */
export async function uploadFile(client: LablogClient, path: string, localPath: string, retryForMs: number): Promise<void> {
  const fs = await nodeFs();
  const st = await fs.stat(localPath);
  if (!st.isFile()) throw new Error(`lablog-client: ${localPath} is not a file`);
  await putWithRetry(
    client,
    path,
    async () => {
      const fh = await fs.open(localPath, 'r');
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await fh.close().catch(() => undefined);
      };
      if (st.size === 0) {
        await close();
        return { data: new Uint8Array(0) as unknown as BodyInit, done: close };
      }
      const stream = new ReadableStream<Uint8Array>(
        {
          async pull(ctrl) {
            const buf = new Uint8Array(CHUNK);
            const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
            if (bytesRead === 0) {
              ctrl.close();
              await close();
            } else ctrl.enqueue(buf.subarray(0, bytesRead));
          },
          cancel: close,
        },
        { highWaterMark: 0 },
      );
      return { data: stream as unknown as BodyInit, done: close };
    },
    retryForMs,
  );
}

/** Every file under `dir` (symlinks followed), as paths relative to it with '/' separators. */
export async function listFiles(dir: string): Promise<string[]> {
  const fs = await nodeFs();
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = rel ? `${dir}/${rel}` : dir;
    const entries = await fs.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await fs.stat(`${dir}/${r}`);
        isDir = st.isDirectory();
        isFile = st.isFile();
      }
      if (isDir) await walk(r);
      else if (isFile) out.push(r);
    }
  };
  await walk('');
  return out;
}

/** `images/<key>/step_<step, 9 digits>.png`: sorted by name, sorted by step. */
export function imagePath(key: string, step: number): string {
  const digits = String(Math.abs(step)).padStart(9, '0');
  return `images/${key}/step_${step < 0 ? '-' : ''}${digits}.png`;
}
