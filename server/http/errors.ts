import { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { invalid, LablogError, type ErrorCode } from '../errors.js';
import { inspectJson, MAX_JSON_DEPTH } from './limits.js';
import { describeValidation, type ValidationIssue } from './validation-messages.js';

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
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
};

const RAW_JSON = Symbol('rawJson');

/**
 * Fastify's JSON parser, keeping the text on the request: a validation message prints a number as the
 * client wrote it (`9.0` is a Python float to MLflow, `9` an int), which the parsed value forgets.
 * Prototype-poisoning keys are refused as Fastify refuses them (onProtoPoisoning and
 * onConstructorPoisoning 'error', its defaults: an invalid JSON body), but found by inspectJson's walk
 * instead of secure-json-parse's scans of the text; other settings keep Fastify's own check.
 */
export function keepRawJson(app: FastifyInstance): void {
  const proto = app.initialConfig.onProtoPoisoning ?? 'error';
  const ctor = app.initialConfig.onConstructorPoisoning ?? 'error';
  const ownCheck = proto === 'error' && ctor === 'error';
  const parse = ownCheck ? app.getDefaultJsonParser('ignore', 'ignore') : app.getDefaultJsonParser(proto, ctor);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    (req as unknown as Record<symbol, unknown>)[RAW_JSON] = body;
    parse(req, body as string, (err, value) => {
      const refusal = err ? null : inspectJson(value, MAX_JSON_DEPTH);
      if (refusal === 'too-deep') {
        return done(invalid(`Malformed JSON in request body: nested deeper than ${MAX_JSON_DEPTH} levels, the most lablog accepts`), undefined);
      }
      if (refusal === 'prototype-key' && ownCheck) return done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      done(err, value);
    });
  });
}

function rawJsonOf(req: FastifyRequest): string | undefined {
  const raw = (req as unknown as Record<symbol, unknown>)[RAW_JSON];
  return typeof raw === 'string' ? raw : undefined;
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
      const where = err.validationContext ?? 'body';
      const schemas = req.routeOptions.schema as Record<string, unknown> | undefined;
      let message: string;
      try {
        message = describeValidation(err.validation as unknown as ValidationIssue[], where, where === 'querystring' ? req.query : where === 'params' ? req.params : req.body, {
          schema: schemas?.[where],
          rawJson: where === 'body' ? rawJsonOf(req) : undefined,
        });
      } catch (describeErr) {
        // Wording the message must not turn a client's mistake into a server error.
        req.log.warn({ err: describeErr }, 'could not word a validation error');
        message = `Invalid request ${where}: ${err.validation?.[0]?.message ?? 'a value does not match its schema'}`;
      }
      return sendError(reply, 'INVALID_PARAMETER_VALUE', message);
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
