import net from 'node:net';

export interface RawAnswer {
  /** Statuses and bodies of every response read on the connection, in order. */
  responses: { status: number; headers: Record<string, string>; body: string }[];
  /** A socket error while sending or reading (EPIPE, ECONNRESET), if any. */
  error?: string;
  /** How many body bytes the client managed to write before the socket ended. */
  sent: number;
}

/** Splits what came back on one connection into HTTP/1.1 responses (content-length bodies only). */
export function parseResponses(raw: Buffer): RawAnswer['responses'] {
  const out: RawAnswer['responses'] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
}

/**
 * Sends one request the way Python's http.client does: the whole body first, honouring backpressure,
 * and only then reads. `after` is written on the same connection once the body is out (a second,
 * pipelined request), to see whether the connection survives the refusal.
 */
export function sendRaw(port: number, head: string, body: Buffer, opts: { chunked?: boolean; after?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    socket.on('data', (d) => received.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => resolve({ responses: parseResponses(Buffer.concat(received)), error, sent }));
    const framing = opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
    socket.write(`${head}\r\nHost: lablog.test\r\n${framing}\r\n\r\n`);
    const piece = 64 * 1024;
    let off = 0;
    const pump = () => {
      while (off < body.length && !socket.destroyed) {
        const chunk = body.subarray(off, off + piece);
        off += chunk.length;
        const framed = opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        const more = socket.write(framed, (err) => {
          if (!err) sent += chunk.length;
        });
        if (!more) return void socket.once('drain', pump);
      }
      if (socket.destroyed) return;
      if (opts.chunked) socket.write('0\r\n\r\n');
      // The last request asks the server to close, so 'close' marks the end of the answers.
      socket.write(opts.after ?? '', () => socket.end());
    };
    pump();
  });
}

/** A connection that records everything the server sends until it closes. */
export function openRaw(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (d) => received.push(d));
  socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
  const closed = new Promise<{ responses: RawAnswer['responses']; error?: string; bytes: number }>((resolve) =>
    socket.on('close', () => {
      const all = Buffer.concat(received);
      resolve({ responses: parseResponses(all), error, bytes: all.length });
    }),
  );
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, connected };
}
