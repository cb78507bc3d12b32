// A client on its own thread that reads a chunked history as fast as it arrives, so the server never
// waits for it: what the server does between pieces is then its own choice, not the client's pace.
import { parentPort, workerData } from 'node:worker_threads';
import { chunkedGet } from './reliability.helpers.js';

const { port, path } = workerData as { port: number; path: string };
let steps = 0;
let carry = '';
const { status } = await chunkedGet(port, path, (chunk) => {
  const text = carry + chunk.toString('latin1');
  steps += text.split('"step":').length - 1;
  carry = text.slice(-7);
  parentPort!.postMessage({ type: 'chunk', bytes: chunk.length });
});
parentPort!.postMessage({ type: 'end', status, steps });
