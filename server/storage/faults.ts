import { StorageUnavailableError } from '../errors.js';

/**
 * Why a file system refused a write, in words a client may read (`where` names the place, never a
 * server path); null for errors that are not the disk's doing (a missing file, a bad path).
 */
export function fsFaultReason(err: unknown, where: string): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOSPC':
      return `the disk holding ${where} is full (ENOSPC)`;
    case 'EDQUOT':
      return `the disk quota for ${where} is used up (EDQUOT)`;
    case 'EROFS':
      return `${where} is on a read-only file system (EROFS)`;
    case 'EACCES':
    case 'EPERM':
      return `the server is not allowed to write to ${where} (${code})`;
    default:
      return null;
  }
}

export function fsFault(err: unknown, where: string): StorageUnavailableError | null {
  const reason = fsFaultReason(err, where);
  return reason === null ? null : new StorageUnavailableError(reason);
}
