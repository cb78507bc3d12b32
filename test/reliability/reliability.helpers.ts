import net from 'node:net';
import type { TestApp } from '../helper.js';

/**
 * GET over a raw socket, reading a chunked answer chunk by chunk as the server framed it: Node writes
 * each `write()` of a response as one chunk, so the sizes seen here are the server's writes.
 * `onChunk` may return a promise: the socket is paused until it settles (a slow client).
 */
export function chunkedGet(port: number, path: string, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    let head: string | null = null;
    let busy = false;
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    const parse = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (head === null) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            head = buf.subarray(0, end).toString('latin1');
            buf = buf.subarray(end + 4);
            if (!/^transfer-encoding: chunked$/im.test(head)) return fail(new Error(`not a chunked answer:\n${head}`));
            continue;
          }
          const eol = buf.indexOf('\r\n');
          if (eol < 0) return;
          const size = parseInt(buf.subarray(0, eol).toString('latin1'), 16);
          if (size === 0) {
            socket.end();
            resolve({ status: Number(head.split(' ')[1]), head });
            return;
          }
          if (buf.length < eol + 2 + size + 2) return;
          const chunk = buf.subarray(eol + 2, eol + 2 + size);
          buf = buf.subarray(eol + 2 + size + 2);
          const wait = onChunk(chunk);
          if (wait) {
            socket.pause();
            await wait;
            socket.resume();
          }
        }
      } finally {
        busy = false;
      }
    };
    socket.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      parse().catch(fail);
    });
    socket.on('error', fail);
    socket.on('close', () => reject(new Error('connection closed before the answer ended')));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

/** Stores `n` points of `key` in one run through the store's bulk path (what an import writes): step i, value i/2. */
export async function seedLongHistory(t: TestApp, runId: string, key: string, n: number): Promise<void> {
  const steps = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    steps[i] = i;
    timestamps[i] = 1_700_000_000_000 + i;
    values[i] = i / 2;
  }
  await t.store.replaceMetricHistory(runId, key, { steps, timestamps, values });
}
