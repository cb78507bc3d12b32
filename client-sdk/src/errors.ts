/**
 * An error answered by the server (`{"error_code", "message"}`), or found by the client before sending
 * (then `status` is 0). `errorCode` is MLflow's name, e.g. INVALID_PARAMETER_VALUE.
 */
export class LablogApiError extends Error {
  readonly errorCode: string;
  readonly status: number;
  /** The parsed error body, when there was one. */
  readonly body?: unknown;

  constructor(errorCode: string, status: number, message: string, body?: unknown) {
    super(message);
    this.name = 'LablogApiError';
    this.errorCode = errorCode;
    this.status = status;
    this.body = body;
  }

  /** Worth retrying: 408, 429 and 5xx. */
  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The request never got an answer (connection refused or reset, DNS, timeout). Always retryable. */
export class LablogNetworkError extends Error {
  override readonly cause: unknown;
  constructor(message: string, cause: unknown) {
    super(message);
    this.name = 'LablogNetworkError';
    this.cause = cause;
  }
}

/** flush()/end() did not finish within its timeoutMs; delivery goes on in the background. */
export class LablogTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LablogTimeoutError';
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof LablogNetworkError) return true;
  if (err instanceof LablogApiError) return err.retryable;
  return false;
}

/** MLflow's client fallback when an error body has no error_code. */
export function errorCodeForStatus(status: number): string {
  if (status === 400) return 'BAD_REQUEST';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 404) return 'ENDPOINT_NOT_FOUND';
  if (status === 413) return 'RESOURCE_EXHAUSTED';
  if (status === 429) return 'REQUEST_LIMIT_EXCEEDED';
  if (status === 503) return 'TEMPORARILY_UNAVAILABLE';
  return 'INTERNAL_ERROR';
}
