/**
 * What an artifact store holds, read straight from its storage (the files under the artifact root,
 * or the objects in the bucket) rather than through lablog: tests assert what was really stored.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { stagingPrefixOf } from '../../server/artifacts/s3.js';
import type { S3Location } from '../../server/artifacts/s3-location.js';

export type ArtifactBackend = 'local' | 's3';

export interface StoredArtifacts {
  backend: ArtifactBackend;
  /** The bytes of the file at `rel` (artifact-root relative); null when there is none. */
  read(rel: string): Promise<Buffer | null>;
  /** Whether a file or a directory is at `rel`. */
  exists(rel: string): Promise<boolean>;
  /**
   * Every entry under `rel`, depth first in name order: `d/` for directories, `f size sha256` for
   * files (paths relative to `rel`); local symlinks as `l -> target`.
   */
  tree(rel?: string): Promise<string[]>;
  /** An empty directory, as a user (or an S3 tool: a `dir/` marker object) makes one. */
  mkdir(rel: string): Promise<void>;
  /** What the staging area holds besides the (empty) multipart folder: leftovers of failed uploads. */
  leftovers(): Promise<string[]>;
  /** The multipart uploads in progress (their ids). */
  uploads(): Promise<string[]>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files under a local artifact root; the staging dir sits beside it (artifacts/local.ts). */
export function localStored(root: string): StoredArtifacts {
  const staging = path.join(path.dirname(root), `.${path.basename(root)}-staging`);
  return {
    backend: 'local',
    async read(rel) {
      const abs = path.join(root, rel);
      return lstatSync(abs, { throwIfNoEntry: false })?.isFile() ? readFileSync(abs) : null;
    },
    async exists(rel) {
      return existsSync(path.join(root, rel));
    },
    async tree(rel = '') {
      return localTree(path.join(root, rel));
    },
    async mkdir(rel) {
      mkdirSync(path.join(root, rel), { recursive: true });
    },
    async leftovers() {
      return localTree(staging).filter((e) => e !== 'mpu/');
    },
    async uploads() {
      return existsSync(path.join(staging, 'mpu')) ? readdirSync(path.join(staging, 'mpu')).sort() : [];
    },
  };
}

/**
 * Every entry under `dir`, recursively, as sorted lines: `d/` for directories, `f size sha256` for
 * files, `l -> target` for symlinks (not followed). `skip(rel)` leaves a subtree out.
 */
export function localTree(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const abs = path.join(dir, r);
      const s = lstatSync(abs);
      if (s.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(abs)}`);
      else if (s.isDirectory()) {
        out.push(`${r}/`);
        walk(r);
      } else out.push(`${r} ${s.size} ${sha256(readFileSync(abs))}`);
    }
  };
  if (existsSync(dir)) walk('');
  return out;
}

/** Every object in the bucket under `prefix`, in key order, page by page as S3 answers. */
export async function bucketObjects(loc: Pick<S3Location, 'client' | 'bucket'>, prefix = ''): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await loc.client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** The keys of bucketObjects. */
export const bucketKeys = async (loc: Pick<S3Location, 'client' | 'bucket'>, prefix = '') => (await bucketObjects(loc, prefix)).map((o) => o.key);

/** Objects in the bucket under the store's prefix; directories are what the keys imply. */
export function s3Stored(loc: S3Location): StoredArtifacts {
  const { client, bucket } = loc;
  const key = (rel: string) => [loc.prefix, rel].filter(Boolean).join('/');
  const dirPrefix = (rel: string) => (key(rel) === '' ? '' : `${key(rel)}/`);

  const keysUnder = (prefix: string) => bucketObjects(loc, prefix);

  async function get(k: string): Promise<Buffer | null> {
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  /** The local tree's lines for the keys under `prefix`, staging and markers folded into directories. */
  async function tree(prefix: string, skip: (rel: string) => boolean = () => false): Promise<string[]> {
    const dirs = new Set<string>();
    const files = new Map<string, number>();
    for (const o of await keysUnder(prefix)) {
      const rel = o.key.slice(prefix.length);
      if (skip(rel)) continue;
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) if (parts[i - 1] !== '') dirs.add(parts.slice(0, i).join('/'));
      if (!rel.endsWith('/')) files.set(rel, o.size);
    }
    const lines: { sortKey: string[]; line: string }[] = [];
    for (const d of dirs) lines.push({ sortKey: d.split('/'), line: `${d}/` });
    for (const [f, size] of files) lines.push({ sortKey: f.split('/'), line: `${f} ${size} ${sha256((await get(prefix + f))!)}` });
    // Depth first in name order, as the local walk goes: compare path segment by segment.
    lines.sort((a, b) => {
      for (let i = 0; i < Math.min(a.sortKey.length, b.sortKey.length); i++) {
        if (a.sortKey[i] !== b.sortKey[i]) return a.sortKey[i] < b.sortKey[i] ? -1 : 1;
      }
      return a.sortKey.length - b.sortKey.length;
    });
    return lines.map((l) => l.line);
  }

  const staging = stagingPrefixOf(loc.prefix);
  return {
    backend: 's3',
    read: (rel) => (rel === '' ? Promise.resolve(null) : get(key(rel))),
    async exists(rel) {
      return (await get(key(rel))) !== null || (await keysUnder(dirPrefix(rel))).length > 0;
    },
    tree: (rel = '') => tree(dirPrefix(rel), (r) => loc.prefix === '' && rel === '' && r.startsWith(staging)),
    async mkdir(rel) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${key(rel)}/`, Body: '' }));
    },
    leftovers: async () => (await tree(staging)).filter((e) => e !== 'mpu/'),
    async uploads() {
      const ids = new Set((await keysUnder(`${staging}mpu/`)).map((o) => o.key.slice(`${staging}mpu/`.length).split('/')[0]));
      return [...ids].sort();
    },
  };
}
