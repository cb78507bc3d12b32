import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { artifactRoutes } from './api/artifacts.routes.js';
import { experimentRoutes } from './api/experiments.routes.js';
import { metricRoutes } from './api/metrics.routes.js';
import { runArtifactRoutes } from './api/run-artifacts.routes.js';
import { runRoutes } from './api/runs.routes.js';
import { sweepRoutes } from './api/sweeps.routes.js';
import type { ArtifactStore } from './artifacts/types.js';
import type { Config } from './config.js';
import { registerErrorHandlers, sendError } from './http/errors.js';
import { registerSdkRoutes } from './http/sdk.js';
import { registerSecurity } from './http/security.js';
import { registerWebUi } from './http/web.js';
import type { TrackingStore } from './store/types.js';
import { createArtifactService } from './tracking/artifacts.service.js';
import { createExperimentService } from './tracking/experiments.service.js';
import { createMetricService } from './tracking/metrics.service.js';
import { createRunService } from './tracking/runs.service.js';
import { createSweepService } from './sweeps/sweeps.service.js';
import { createTrialService } from './sweeps/trials.service.js';
import { VERSION } from './version.js';

export interface AppDeps {
  config: Pick<Config, 'bodyLimit' | 'maxArtifactBytes'> & Partial<Pick<Config, 'corsOrigins'>> & { artifactListPageSize?: number };
  store: TrackingStore;
  artifacts: ArtifactStore;
  logger: Logger | false;
  clock?: { now(): number };
  /** The built UI to serve at / (default web/dist); absent files mean no UI. */
  webRoot?: string;
}

export async function buildApp({ config, store, artifacts, logger, clock = Date, webRoot }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger ? (logger as FastifyBaseLogger) : undefined,
    // Fastify's own two lines per request are replaced by the one line of the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // A slow client uploading a large body must not be cut off (artifacts); idle sockets still time out.
    requestTimeout: 0,
    return503OnClosing: true,
    // Errors Fastify raises before routing (a malformed URL) get the same MLflow error shape.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, err.code === 'FST_ERR_BAD_URL' ? 'INVALID_PARAMETER_VALUE' : 'BAD_REQUEST', err.message);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // MLflow accepts only JSON bodies; text/plain would otherwise reach handlers as a string.
  app.removeContentTypeParser('text/plain');
  await registerSecurity(app, { corsOrigins: config.corsOrigins ?? [] });
  registerErrorHandlers(app, (await registerWebUi(app, webRoot)) ?? undefined);

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

  app.get('/health', (_req, reply) => reply.type('text/plain').send('OK'));
  app.get('/version', (_req, reply) => reply.type('text/plain').send(VERSION));
  registerSdkRoutes(app);

  await app.register(experimentRoutes, { experiments: createExperimentService(store, clock) });
  await app.register(runRoutes, { runs: createRunService(store, clock) });
  await app.register(metricRoutes, { metrics: createMetricService(store) });
  const artifactService = createArtifactService(store, artifacts, {
    maxBytes: config.maxArtifactBytes,
    listPageSize: config.artifactListPageSize ?? 1000,
  });
  await app.register(artifactRoutes, { artifacts: artifactService });
  await app.register(runArtifactRoutes, { artifacts: artifactService });
  const sweeps = createSweepService(store, clock);
  await app.register(sweepRoutes, { sweeps, trials: createTrialService(store, sweeps, clock) });
  return app;
}
