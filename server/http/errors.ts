import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { LablogError, type ErrorCode } from '../errors.js';

// MLflow's ERROR_CODE_TO_HTTP_STATUS for the codes lablog emits.
const STATUS: Record<ErrorCode, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  REQUEST_LIMIT_EXCEEDED: 429,
  INVALID_STATE: 500,
  INTERNAL_ERROR: 500,
  TEMPORARILY_UNAVAILABLE: 503,
};

const API_DOCS = 'See the API docs for more information about request parameters.';

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

/** MLflow's wording: "Missing value for required parameter 'x'." or "Invalid value ... for parameter 'x' ...". */
export function describeValidation(issues: ValidationIssue[], where: string, input: unknown): string {
  const first = issues[0];
  const segments = first.instancePath.split('/').filter(Boolean);
  const field = segments.join('.') || where;
  // Zod reports a missing union-typed field (int64, double) as a failed union, so look at the input.
  let value: unknown = input;
  for (const s of segments) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[s] : undefined;
  if (segments.length > 0 && value === undefined) {
    return `Missing value for required parameter '${field}'. ${API_DOCS}`;
  }
  return `Invalid value for parameter '${field}' supplied: ${first.message}. ${API_DOCS}`;
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, status = STATUS[code]): FastifyReply {
  return reply.code(status).type('application/json').send({ error_code: code, message });
}

/** The one place where thrown errors become HTTP answers; nothing unexpected leaks its internals. */
export function registerErrorHandlers(app: FastifyInstance, fallback?: (req: FastifyRequest, reply: FastifyReply) => boolean): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof LablogError) {
      if (err.retryAfter !== undefined) void reply.header('Retry-After', String(err.retryAfter));
      return sendError(reply, err.errorCode, err.message, err.status);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      return sendError(reply, 'INVALID_PARAMETER_VALUE', describeValidation(
          err.validation as unknown as ValidationIssue[],
          err.validationContext ?? 'body',
          err.validationContext === 'querystring' ? req.query : req.body,
        ));
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 'INVALID_PARAMETER_VALUE', `Request body too large: at most ${req.routeOptions.bodyLimit ?? '?'} bytes are accepted on this endpoint.`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 'INVALID_PARAMETER_VALUE', `Bad Request. Content-Type must be one of ['application/json'].`);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(reply, 'INVALID_PARAMETER_VALUE', `Malformed JSON in request body: ${err.message}`);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'BAD_REQUEST', err.message, err.statusCode);
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 'INTERNAL_ERROR', 'Internal server error; the server log has the details.');
  });

  app.setNotFoundHandler((req, reply) => {
    if (fallback?.(req, reply)) return reply;
    return sendError(reply, 'ENDPOINT_NOT_FOUND', `No API endpoint at ${req.method} ${req.url.split('?')[0]}`);
  });
}
