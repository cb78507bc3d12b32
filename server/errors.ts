/**
 * Errors carry MLflow's error codes; the HTTP layer maps them to status codes in one place.
 * Every layer may throw these; nothing here knows about HTTP.
 */
export type ErrorCode =
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'ENDPOINT_NOT_FOUND'
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'INVALID_STATE'
  | 'INTERNAL_ERROR'
  | 'NOT_IMPLEMENTED'
  | 'TEMPORARILY_UNAVAILABLE';

export class LablogError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    /** HTTP status when MLflow's mapping for the code does not fit (e.g. 413 for an oversize upload). */
    readonly status?: number,
    /** Seconds a client should wait before trying again (sent as Retry-After). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'LablogError';
  }
}

export const invalid = (message: string) => new LablogError('INVALID_PARAMETER_VALUE', message);
export const notFound = (message: string) => new LablogError('RESOURCE_DOES_NOT_EXIST', message);
export const alreadyExists = (message: string) => new LablogError('RESOURCE_ALREADY_EXISTS', message);
export const tooLarge = (message: string) => new LablogError('REQUEST_LIMIT_EXCEEDED', message, 413);
export const denied = (message: string) => new LablogError('PERMISSION_DENIED', message);
export const unauthenticated = (message: string) => new LablogError('UNAUTHENTICATED', message);
export const rateLimited = (message: string, retryAfter: number) => new LablogError('REQUEST_LIMIT_EXCEEDED', message, undefined, retryAfter);

/**
 * The disk refused a write: full, over quota, read-only or not ours to write. Nothing of the request was
 * stored (transactions roll back, uploads leave no file), reads still work, and the same request succeeds
 * once the disk is writable again: 503 TEMPORARILY_UNAVAILABLE, which MLflow's clients retry.
 */
export class StorageUnavailableError extends LablogError {
  constructor(
    /** What is wrong, for the message and for /health ("the disk holding ... is full (ENOSPC)"). */
    readonly reason: string,
  ) {
    super('TEMPORARILY_UNAVAILABLE', `Storage unavailable: ${reason}. This write was not stored; reads still work. Try again once the disk is writable.`);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * `target` with each function (or only those named) rethrowing what `classify` recognizes as its typed
 * error; everything else passes through untouched. Lets a store map its backend's codes in one place.
 */
export function translateErrors<T extends object>(target: T, classify: (err: unknown) => LablogError | null, only?: readonly (keyof T)[]): T {
  const translate = (err: unknown) => classify(err) ?? err;
  const out = { ...target };
  for (const key of only ?? (Object.keys(target) as (keyof T)[])) {
    const fn = target[key];
    if (typeof fn !== 'function') continue;
    out[key] = function (this: unknown, ...args: unknown[]) {
      let result: unknown;
      try {
        result = fn.apply(this, args);
      } catch (err) {
        throw translate(err);
      }
      return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(translate(err))) : result;
    } as T[keyof T];
  }
  return out;
}

/** Awaits a write that a read happens to make (a token's last use, a sweep's timeouts): skipped while storage refuses writes. */
export async function unlessStorageUnavailable(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(err instanceof StorageUnavailableError)) throw err;
  }
}

/**
 * A TrackingStore method the PostgreSQL store does not implement yet (issue #13 lands it in slices).
 * 501 NOT_IMPLEMENTED (MLflow's code for it): the request was fine, this backend cannot serve it yet.
 */
export class NotYetOnPostgresError extends LablogError {
  constructor(readonly method: string) {
    super('NOT_IMPLEMENTED', `${method} is not yet available on PostgreSQL; run lablog on SQLite (no LABLOG_DATABASE_URL) for it`);
    this.name = 'NotYetOnPostgresError';
  }
}
