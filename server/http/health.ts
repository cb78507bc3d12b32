import type { FastifyInstance } from 'fastify';
import type { StorageHealth } from '../storage/health.js';

/**
 * GET /health: 200 `OK` (text, as MLflow answers) once the store is open. A client asking for JSON
 * (`Accept: application/json`) also learns whether writes can be stored:
 * `{"status":"OK","storage":{"writable":false,"reason":"...","free_bytes":0}}`. The answer stays 200
 * while storage refuses writes: reads still work, so the server must stay in its load balancer.
 */
export function registerHealth(app: FastifyInstance, storage: StorageHealth | undefined): void {
  app.get('/health', async (req, reply) => {
    if (!req.headers.accept?.includes('application/json')) return reply.type('text/plain').send('OK');
    const s = storage ? await storage.current() : null;
    return reply.send({
      status: 'OK',
      ...(s && { storage: { writable: s.writable, ...(s.reason !== null && { reason: s.reason }), free_bytes: s.freeBytes } }),
    });
  });
}
