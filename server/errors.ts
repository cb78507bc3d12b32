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
 * A TrackingStore method the PostgreSQL store does not implement yet (issue #13 lands it in slices).
 * 501 Not Implemented: the request was fine, this server cannot serve it on this backend.
 */
export class NotYetOnPostgresError extends LablogError {
  constructor(readonly method: string) {
    super('INTERNAL_ERROR', `${method} is not yet available on PostgreSQL; run lablog on SQLite (no LABLOG_DATABASE_URL) for it`, 501);
    this.name = 'NotYetOnPostgresError';
  }
}
