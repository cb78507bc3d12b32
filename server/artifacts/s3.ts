import { randomUUID } from 'node:crypto';
import { PassThrough, pipeline, Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { invalid, translateErrors } from '../errors.js';
import { byName, byteLimit, checkedParts, checkPartNumber, checkUploadId, uploadMissing } from './common.js';
import { clientSide, s3Fault, type S3Location } from './s3-location.js';
import type { ArtifactEntry, ArtifactStore, Range } from './types.js';

/** S3 allows at most 10,000 parts per upload, each (but the last) at least 5 MiB; larger limits get larger parts. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Parts in flight per upload: memory per upload is about partSize x (QUEUE + 1). */
const QUEUE = 2;

/**
 * Artifacts as objects under `s3://bucket/prefix`. A key is the prefix plus the artifact path;
 * directories are key prefixes (an empty one exists only as a `dir/` marker that S3 tools make).
 * Uploads stream through lib-storage's Upload (one PUT, or S3 multipart for large bodies), so an
 * object appears whole or not at all and memory stays at a few parts whatever the size. lablog's own
 * multipart parts wait as objects in a staging prefix beside the root (clients may send parts smaller
 * than S3's 5 MiB minimum) and are streamed into the target on complete, as the local store does.
 * A write S3 refuses (unreachable, access denied, no bucket) rejects with StorageUnavailableError.
 */
export function createS3ArtifactStore(loc: S3Location): ArtifactStore {
  const { client, bucket } = loc;
  const root = loc.prefix;
  const key = (rel: string) => (root === '' ? rel : rel === '' ? root : `${root}/${rel}`);
  const dirPrefix = (rel: string) => (rel === '' ? (root === '' ? '' : `${root}/`) : `${key(rel)}/`);
  const staging = stagingPrefixOf(root);
  const uploadPrefix = (id: string) => {
    checkUploadId(id);
    return `${staging}mpu/${id}/`;
  };

  function refuseStaging(rel: string): void {
    // With no prefix the staging area sits inside the root: it must not be reachable as an artifact.
    if (root === '' && (rel === STAGING_NAME || rel.startsWith(`${STAGING_NAME}/`))) throw invalid(`Invalid path '${rel}': reserved for uploads in progress`);
  }

  async function exists(k: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Every object under `prefix`, page by page (S3 answers at most 1,000 keys a call). */
  async function* objectsUnder(prefix: string): AsyncGenerator<{ key: string; size: number }[]> {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      yield (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0 }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const failed = res.Errors ?? [];
    if (failed.length > 0) throw Object.assign(new Error(`S3 refused to delete ${failed.length} object(s): ${failed[0].Code} ${failed[0].Message ?? ''}`), { name: failed[0].Code ?? 'DeleteFailed' });
  }

  /** Removes the object `k` and everything under `k/`; reports whether anything was there and its bytes. */
  async function removeAll(k: string, dir: string): Promise<{ existed: boolean; bytes: number }> {
    let existed = false;
    let bytes = 0;
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: k })).catch((err) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (head) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
      existed = true;
      bytes += head.ContentLength ?? 0;
    }
    // Deleting while listing is safe: each page is fetched from the key after the last one seen.
    for await (const page of objectsUnder(dir)) {
      existed ||= page.length > 0;
      for (const o of page) bytes += o.size;
      await deleteKeys(page.map((o) => o.key));
    }
    return { existed, bytes };
  }

  /** The local store's rules for where a file may go: not over a directory, not under a file. */
  async function checkTarget(rel: string): Promise<void> {
    if (rel === '') throw invalid('An artifact needs a file path, not the root');
    refuseStaging(rel);
    const segments = rel.split('/');
    const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
    const [dirBelow, ...files] = await Promise.all([
      client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${key(rel)}/`, MaxKeys: 1 })),
      ...ancestors.map((a) => exists(key(a))),
    ]);
    if ((dirBelow.Contents ?? []).length > 0) throw invalid(`Cannot write artifact '${rel}': a directory of that name exists`);
    if (files.some(Boolean)) throw invalid(`Cannot write artifact '${rel}': a file stands where a directory is needed`);
  }

  /** Streams `body` into object `k` (at most maxBytes); an error, abort or overflow leaves no object and no open upload. */
  async function upload(k: string, body: Readable, maxBytes: number, withMd5 = false): Promise<{ size: number; md5: string }> {
    const limit = byteLimit(maxBytes, withMd5);
    let bodyError: unknown = null;
    pipeline(body, limit.stream, (err) => {
      if (err) bodyError = err;
    });
    const partSize = Math.max(MIN_PART_BYTES, Math.ceil(maxBytes / 10_000));
    const up = new Upload({ client, params: { Bucket: bucket, Key: k, Body: limit.stream }, partSize, queueSize: QUEUE, leavePartsOnError: false });
    try {
      await up.done();
    } catch (err) {
      // The client's own failure (a dropped connection, too many bytes) is no fault of the storage.
      if (bodyError) throw clientSide(bodyError);
      throw err;
    }
    if (bodyError) {
      // The body failed after its last byte was taken (rare): what was stored may be cut short.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })).catch(() => undefined);
      throw clientSide(bodyError);
    }
    return { size: limit.size(), md5: limit.md5() };
  }

  async function readText(k: string): Promise<string | null> {
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      return await res.Body!.transformToString('utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  const putText = (k: string, text: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: text }));

  async function uploadTarget(id: string): Promise<string> {
    const target = await readText(`${uploadPrefix(id)}target`);
    if (target === null) throw uploadMissing(id);
    return target;
  }

  /** The objects' bytes one after another, fetched one at a time as the reader wants them. */
  async function* concat(keys: string[]): AsyncGenerator<Buffer> {
    for (const k of keys) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      for await (const chunk of res.Body as Readable) yield chunk as Buffer;
    }
  }

  const store: ArtifactStore = {
    async put(rel, body, maxBytes) {
      await checkTarget(rel);
      const { size } = await upload(key(rel), body, maxBytes);
      return { size };
    },

    async stat(rel) {
      if (rel === '') return null;
      refuseStaging(rel);
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(rel) }));
        return { size: h.ContentLength ?? 0, mtimeMs: h.LastModified?.getTime() ?? 0, etag: h.ETag ?? `"${h.ContentLength}-${h.LastModified?.getTime()}"` };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    read(rel, range?: Range) {
      // Callers stat() first; the stream starts empty and fills once S3 answers, with backpressure both ways.
      const out = new PassThrough();
      const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
      client.send(new GetObjectCommand({ Bucket: bucket, Key: key(rel), Range }), { abortSignal: abortOn(out) }).then(
        (res) => pipeline(res.Body as Readable, out, () => undefined),
        (err: Error) => out.destroy(err),
      );
      return out;
    },

    async list(rel) {
      refuseStaging(rel);
      const prefix = dirPrefix(rel);
      const dirs: ArtifactEntry[] = [];
      const files: ArtifactEntry[] = [];
      let found = false;
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
        for (const p of page.CommonPrefixes ?? []) {
          found = true;
          const name = p.Prefix!.slice(prefix.length, -1);
          if (name !== '' && !(root === '' && rel === '' && name === STAGING_NAME)) dirs.push({ name, isDir: true, size: null });
        }
        for (const o of page.Contents ?? []) {
          found = true;
          const name = o.Key!.slice(prefix.length);
          // The `dir/` marker itself: the directory exists, it is not an entry in it.
          if (name !== '') files.push({ name, isDir: false, size: o.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return found || rel === '' ? [...dirs, ...files].sort(byName) : null;
    },

    async delete(rel) {
      if (rel === '') throw invalid('Refusing to delete the artifact root');
      refuseStaging(rel);
      return (await removeAll(key(rel), `${key(rel)}/`)).existed;
    },

    async removeTree(rel) {
      if (rel === '') throw invalid('Refusing to remove the artifact root');
      refuseStaging(rel);
      return removeAll(key(rel), `${key(rel)}/`);
    },

    async createUpload(rel) {
      if (rel === '') throw invalid('A multipart upload needs a file path');
      refuseStaging(rel);
      const id = randomUUID();
      await putText(`${uploadPrefix(id)}target`, rel);
      return id;
    },

    async putPart(id, partNumber, body, maxBytes) {
      await uploadTarget(id);
      checkPartNumber(partNumber);
      const part = `${uploadPrefix(id)}part-${partNumber}`;
      const { size, md5 } = await upload(part, body, maxBytes, true);
      try {
        await putText(`${part}.etag`, md5);
      } catch (err) {
        // A part without its etag is no part: completing the upload then names it missing.
        await deleteKeys([part, `${part}.etag`]).catch(() => undefined);
        throw err;
      }
      return { etag: md5, size };
    },

    async completeUpload(id, rel, parts, maxBytes) {
      const target = await uploadTarget(id);
      if (target !== rel) throw invalid(`Upload ${id} is for '${target}', not '${rel}'`);
      const part = (n: number) => `${uploadPrefix(id)}part-${n}`;
      const keys = (await checkedParts(id, parts, (n) => readText(`${part(n)}.etag`))).map(part);
      await checkTarget(rel);
      const { size } = await upload(key(rel), Readable.from(concat(keys)), maxBytes);
      await removeAll(`${uploadPrefix(id)}`, uploadPrefix(id));
      return { size };
    },

    async abortUpload(id) {
      await uploadTarget(id);
      await removeAll(uploadPrefix(id), uploadPrefix(id));
    },
  };
  const where = `the artifact bucket '${bucket}'`;
  const writes = ['put', 'delete', 'removeTree', 'createUpload', 'putPart', 'completeUpload', 'abortUpload'] as const;
  const reads = ['stat', 'list'] as const;
  return translateErrors(translateErrors(store, (err) => s3Fault(err, where, 'write'), writes), (err) => s3Fault(err, where, 'read'), reads);
}

/** With no prefix the staging area is this folder of the bucket's root (hidden from listings). */
const STAGING_NAME = '.lablog-staging';

/** Beside the root, as the local store keeps it: `runs/lablog` stages under `runs/.lablog-staging/`. */
export function stagingPrefixOf(root: string): string {
  if (root === '') return `${STAGING_NAME}/`;
  const slash = root.lastIndexOf('/');
  return `${root.slice(0, slash + 1)}.${root.slice(slash + 1)}-staging/`;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Aborts the S3 request when the reader goes away before the end (a client that disconnected). */
function abortOn(stream: PassThrough): AbortSignal {
  const ctl = new AbortController();
  stream.once('close', () => {
    if (!stream.writableFinished) ctl.abort();
  });
  return ctl.signal;
}
