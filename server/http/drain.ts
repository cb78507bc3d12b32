import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * What is read and thrown away of a refused request's body before the answer goes out. A client
 * that sends its whole body before reading (Python's http.client, so the stock mlflow client) gets a
 * broken pipe instead of the error if the server closes while it is still sending; past this bound
 * (or this long) the server answers and closes all the same.
 */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 30_000;

const draining = new WeakSet<IncomingMessage>();

/** True while an error answer waits for the rest of this request's body (it has its own bounds). */
export function isDraining(raw: IncomingMessage): boolean {
  return draining.has(raw);
}

/** Reads and discards the rest of `raw`; true once it ended, false when it went past a bound or broke. */
export function drainRequest(raw: IncomingMessage, maxBytes = DRAIN_MAX_BYTES, maxMs = DRAIN_MAX_MS): Promise<boolean> {
  if (raw.complete || raw.readableEnded) return Promise.resolve(true);
  if (raw.destroyed) return Promise.resolve(false);
  draining.add(raw);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ended: boolean) => {
      draining.delete(raw);
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
      // Past the bound: stop reading; the answer below closes the connection.
      if (!ended) raw.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(raw.complete);
    const timer = setTimeout(() => finish(false), maxMs);
    timer.unref();
    raw.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onClose);
    raw.resume();
  });
}

/**
 * Every error answer (a body over its limit, a wrong content type, missing credentials, a failure
 * while an upload streamed in) waits until the client has sent the rest of its body, so the client
 * reads the error instead of a reset connection.
 */
export function drainBeforeErrors(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode < 400 || req.raw.complete) return payload;
    // Fastify asks to close after a body it refused; once the body is read to its end the
    // connection is in a clean state and a keep-alive client can go on using it.
    if (await drainRequest(req.raw)) reply.removeHeader('connection');
    else void reply.header('connection', 'close');
    return payload;
  });
}
