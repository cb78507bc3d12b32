import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { invalid, notFound, tooLarge } from '../errors.js';

/**
 * A pass-through that counts bytes, fails with 413 once they pass `maxBytes`, and (withMd5) hashes
 * them for a part's ETag: what every store puts between a request body and its storage.
 */
export function byteLimit(maxBytes: number, withMd5 = false) {
  let size = 0;
  const md5 = withMd5 ? createHash('md5') : null;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(tooLarge(`Artifact larger than the limit of ${maxBytes} bytes (LABLOG_MAX_ARTIFACT_BYTES)`));
      md5?.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, size: () => size, md5: () => md5?.digest('hex') ?? '' };
}

/**
 * Checks the parts a client names to complete upload `id` against the etags stored with them
 * (`storedEtag`: null for a part never uploaded) and answers their numbers in part order, the order
 * to assemble them in; an empty or repeating list, a missing part or a wrong etag is refused.
 */
export async function checkedParts(id: string, parts: { partNumber: number; etag: string }[], storedEtag: (partNumber: number) => Promise<string | null>): Promise<number[]> {
  const out: number[] = [];
  for (const p of orderedParts(parts)) {
    const etag = await storedEtag(p.partNumber);
    if (etag === null) throw invalid(`Part ${p.partNumber} of upload ${id} was never uploaded`);
    if (etag !== p.etag.replaceAll('"', '')) throw invalid(`Part ${p.partNumber} of upload ${id}: etag '${p.etag}' does not match`);
    out.push(p.partNumber);
  }
  return out;
}

function orderedParts<P extends { partNumber: number }>(parts: P[]): P[] {
  if (parts.length === 0) throw invalid('A multipart upload needs at least one part');
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].partNumber === sorted[i - 1].partNumber) throw invalid(`Part ${sorted[i].partNumber} is listed more than once`);
  }
  return sorted;
}

export function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw invalid(`Invalid part number ${partNumber}: 1 to 10000`);
}

/** Upload ids are UUIDs; anything else names no upload (and never reaches a path or key). */
export function checkUploadId(id: string): void {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw uploadMissing(id);
}

export const uploadMissing = (id: string) => notFound(`No multipart upload with id '${id.slice(0, 64)}'`);

/** Listing order: by name in code-unit order, the same on every store. */
export const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
