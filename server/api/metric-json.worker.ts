// The thread that writes long metric answers as JSON (see metric-json-pool.ts).
import { parentPort } from 'node:worker_threads';
import { yieldToEventLoopThread } from '../background-thread.js';
import { pointsJson, type Segment } from './metric-json.js';

yieldToEventLoopThread();

parentPort!.on('message', ({ id, lead, segments }: { id: number; lead: Uint8Array; segments: Segment[] }) => {
  const bytes = pointsJson(segments, lead);
  parentPort!.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
});
