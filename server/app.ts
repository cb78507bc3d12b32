import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { accountRoutes } from './api/accounts.routes.js';
import { artifactRoutes } from './api/artifacts.routes.js';
import { experimentRoutes } from './api/experiments.routes.js';
import { ANSWER_CACHE_BYTES, createAnswerCache } from './api/answer-cache.js';
import { metricRoutes } from './api/metrics.routes.js';
import { OIDC_CALLBACK_PATH, oidcRoutes } from './api/oidc.routes.js';
import { modelVersionRoutes } from './api/registry-versions.routes.js';
import { registeredModelRoutes } from './api/registry-models.routes.js';
import { runArtifactRoutes } from './api/run-artifacts.routes.js';
import { runRoutes } from './api/runs.routes.js';
import { sweepRoutes } from './api/sweeps.routes.js';
import type { ArtifactStore } from './artifacts/types.js';
import { createAccess } from './auth/access.js';
import { createAccountService } from './auth/accounts.service.js';
import { createCredentialService } from './auth/credentials.service.js';
import { createOidcService } from './auth/oidc.service.js';
import type { Config } from './config.js';
import { StorageUnavailableError } from './errors.js';
import { registerAuth } from './http/auth.js';
import { drainBeforeErrors } from './http/drain.js';
import { DEFAULT_LIMITS, registerLimits, serverOptions, type ConnectionLimits } from './http/limits.js';
import { keepRawJson, registerErrorHandlers, sendError } from './http/errors.js';
import { registerHealth } from './http/health.js';
import { openApiRoutes, registerOpenApi } from './http/openapi.js';
import { registerSdkRoutes } from './http/sdk.js';
import { registerSecurity } from './http/security.js';
import { registerWebUi } from './http/web.js';
import type { StorageHealth } from './storage/health.js';
import type { TrackingStore } from './store/types.js';
import { createArtifactService } from './tracking/artifacts.service.js';
import { createExperimentService } from './tracking/experiments.service.js';
import { createMetricService } from './tracking/metrics.service.js';
import { createRegistryService } from './tracking/registry.service.js';
import { createRunService } from './tracking/runs.service.js';
import { createSweepService } from './sweeps/sweeps.service.js';
import { createTrialService } from './sweeps/trials.service.js';
import { VERSION } from './version.js';

/** The settings of team hosting; all optional, so a test or a one-person server needs none. */
type AuthSettings = Pick<
  Config,
  'auth' | 'defaultPermission' | 'rateLimit' | 'loginMaxFailures' | 'sessionTtlHours' | 'trustedProxies' | 'oidcDefaultRole' | 'corsOrigins'
> &
  Pick<Config, 'trustedProxyHeader' | 'publicUrl' | 'oidcIssuer' | 'oidcClientId' | 'oidcClientSecret' | 'oidcAdminClaim'>;

/**
 * Every schema is zod's (fastify-type-provider-zod): without these factories Fastify would load Ajv and
 * fast-json-stringify at start-up only to set them aside (the bundle leaves them out). Fastify types the
 * factories for Ajv's compile signature, which zod's compilers do not share, hence the cast.
 */
const ZOD_COMPILERS = {
  buildValidator: () => validatorCompiler,
  buildSerializer: () => serializerCompiler,
} as unknown as NonNullable<FastifyServerOptions['schemaController']>['compilersFactory'];

export interface AppDeps {
  config: Pick<Config, 'bodyLimit' | 'maxArtifactBytes'> & Partial<AuthSettings> & Partial<ConnectionLimits> & Partial<Pick<Config, 'answerCacheMb'>> & { artifactListPageSize?: number };
  store: TrackingStore;
  artifacts: ArtifactStore;
  logger: Logger | false;
  clock?: { now(): number };
  /** The built UI to serve at / (default web/dist); absent files mean no UI. */
  webRoot?: string;
  /** Whether the disk takes writes, for /health; told of every write the disk refused. */
  storage?: StorageHealth;
}

export async function buildApp({ config, store, artifacts, logger, clock = Date, webRoot, storage }: AppDeps): Promise<FastifyInstance> {
  const limits: ConnectionLimits = {
    maxConnections: config.maxConnections ?? DEFAULT_LIMITS.maxConnections,
    headersTimeout: config.headersTimeout ?? DEFAULT_LIMITS.headersTimeout,
    bodyTimeout: config.bodyTimeout ?? DEFAULT_LIMITS.bodyTimeout,
    idleTimeout: config.idleTimeout ?? DEFAULT_LIMITS.idleTimeout,
  };
  const app = Fastify({
    ...serverOptions(limits),
    loggerInstance: logger ? (logger as FastifyBaseLogger) : undefined,
    // Fastify's own two lines per request are replaced by the one line of the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    schemaController: { compilersFactory: ZOD_COMPILERS },
    // A slow client uploading a large body must not be cut off (artifacts); idle sockets still time out.
    requestTimeout: 0,
    return503OnClosing: true,
    // Errors Fastify raises before routing (a malformed URL) get the same MLflow error shape.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, err.code === 'FST_ERR_BAD_URL' ? 'INVALID_PARAMETER_VALUE' : 'BAD_REQUEST', err.message);
    },
  });
  // The route table, so a test can walk every route a change adds (none may skip authentication).
  const routes: { method: string; url: string; public: boolean; schema?: Record<string, unknown> }[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, public: r.config?.public === true, schema: r.schema as Record<string, unknown> | undefined });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // MLflow accepts only JSON bodies; text/plain would otherwise reach handlers as a string.
  app.removeContentTypeParser('text/plain');
  keepRawJson(app);
  drainBeforeErrors(app);
  registerLimits(app, limits);
  await registerSecurity(app, { corsOrigins: config.corsOrigins ?? [] });
  // Before any route: @fastify/swagger collects the routes as they are added.
  await registerOpenApi(app);
  registerErrorHandlers(app, (await registerWebUi(app, webRoot)) ?? undefined);

  if (storage) {
    app.addHook('onError', (_req, _reply, err, done) => {
      if (err instanceof StorageUnavailableError) storage.fault(err.reason);
      done();
    });
  }
  // One log line per request, with its duration.
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    done();
  });
  // Old MLflow clients send the JSON body encoded once more as a JSON string.
  app.addHook('preValidation', (req, _reply, done) => {
    if (typeof req.body === 'string') {
      try {
        req.body = JSON.parse(req.body);
      } catch {
        // left as is: validation reports it
      }
    }
    done();
  });

  const auth = {
    enabled: config.auth ?? false,
    defaultPermission: config.defaultPermission ?? 'READ',
  };
  const now = () => clock.now();
  const access = createAccess(store, { defaultPermission: auth.defaultPermission, now });
  const credentials = createCredentialService(store, {
    sessionTtlMs: (config.sessionTtlHours ?? 168) * 3_600_000,
    loginMaxFailures: config.loginMaxFailures ?? 10,
    now,
  });
  // What the two caches hold is dropped per user as each change commits, whichever process made it;
  // a grant (each experiment or model its creator makes) leaves the verified credentials alone. With
  // auth off every caller is the built-in admin and nothing is cached: nothing to listen for.
  if (auth.enabled) {
    const stopHearing = store.onAuthChanged(({ userId, what }) => {
      if (what === 'user') credentials.forget(userId);
      access.forget(userId);
    });
    app.addHook('onClose', async () => stopHearing());
  }
  const accounts = createAccountService(store, access, credentials, { ...auth, now });
  await registerAuth(app, {
    enabled: auth.enabled,
    credentials,
    accounts,
    rateLimit: config.rateLimit ?? 120_000,
    trustedProxyHeader: config.trustedProxyHeader,
    trustedProxies: config.trustedProxies ?? [],
    proxyRole: config.oidcDefaultRole ?? 'viewer',
    clock,
  });
  const secureCookies = config.publicUrl?.startsWith('https:') ?? false;
  await app.register(accountRoutes, { accounts, credentials, secureCookies });
  await app.register(oidcRoutes, { authEnabled: auth.enabled, oidc: oidcOf(config, { store, credentials, now }), credentials, secureCookies });

  registerHealth(app, storage);
  app.get('/version', (_req, reply) => reply.type('text/plain').send(VERSION));
  registerSdkRoutes(app, { publicUrl: config.publicUrl });

  await app.register(experimentRoutes, { experiments: createExperimentService(store, clock, access) });
  // Only a store that sees every writer's writes gives a version (SQLite; see TrackingStore.answerVersion).
  const cacheBytes = (config.answerCacheMb ?? ANSWER_CACHE_BYTES / 2 ** 20) * 2 ** 20;
  const answers = store.answerVersion && cacheBytes > 0 ? createAnswerCache(() => store.answerVersion!(), cacheBytes) : null;
  await app.register(runRoutes, { runs: createRunService(store, clock, access), answers });
  await app.register(metricRoutes, { metrics: createMetricService(store, access), answers });
  const artifactService = createArtifactService(store, artifacts, access, {
    maxBytes: config.maxArtifactBytes,
    listPageSize: config.artifactListPageSize ?? 1000,
  });
  await app.register(artifactRoutes, { artifacts: artifactService });
  await app.register(runArtifactRoutes, { artifacts: artifactService });
  const registry = createRegistryService(store, clock, access);
  await app.register(registeredModelRoutes, { registry });
  await app.register(modelVersionRoutes, { registry, artifacts: artifactService });
  const sweeps = createSweepService(store, clock, access);
  await app.register(sweepRoutes, { sweeps, trials: createTrialService(store, sweeps, clock) });
  await app.register(openApiRoutes);
  return app;
}

/** The single sign-on service when auth is on and OpenID Connect is configured (config.ts checks the set). */
function oidcOf(
  config: AppDeps['config'],
  deps: { store: TrackingStore; credentials: ReturnType<typeof createCredentialService>; now: () => number },
) {
  const { oidcIssuer: issuer, oidcClientId: clientId, oidcClientSecret: clientSecret, publicUrl } = config;
  if (!config.auth || !issuer || !clientId || !clientSecret) return null;
  if (!publicUrl) throw new Error('OpenID Connect needs the public URL (LABLOG_PUBLIC_URL) to build its redirect URI');
  return createOidcService(deps.store, deps.credentials, {
    issuer,
    clientId,
    clientSecret,
    redirectUri: `${publicUrl.replace(/\/+$/, '')}${OIDC_CALLBACK_PATH}`,
    defaultRole: config.oidcDefaultRole ?? 'viewer',
    adminClaim: config.oidcAdminClaim,
    now: deps.now,
  });
}
