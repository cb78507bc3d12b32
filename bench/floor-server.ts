// The floor (issue #14): a server that answers the benchmark's calls from memory, as fast as this
// machine's Node and loopback can. The first call of a kind (method, path and body) goes through to
// lablog and its answer is kept; every repeat is served from that copy. log-metric answers `{}` at once.
// Run as its own process by bench/floor.ts (so it never shares an event loop with the client loop):
// `node dist/bench/floor-server.js <lablog url>`; it prints `{"url": ...}` once it listens.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const target = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true });
const kept = new Map<string, { status: number; type: string; body: Buffer }>();
const EMPTY = Buffer.from('{}');

function forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    const up = http.request(new URL(req.url!, target), { method: req.method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, type: String(res.headers['content-type'] ?? 'application/json'), body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    up.on('error', reject);
    up.end(body);
  });
}

function answer(res: http.ServerResponse, a: { status: number; type: string; body: Buffer }): void {
  res.writeHead(a.status, { 'content-type': a.type, 'content-length': a.body.length });
  res.end(a.body);
}

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.url!.endsWith('/runs/log-metric')) return answer(res, { status: 200, type: 'application/json', body: EMPTY });
    const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const key = `${req.method} ${req.url} ${body.toString('latin1')}`;
    const hit = kept.get(key);
    if (hit) return answer(res, hit);
    forward(req, body).then(
      (a) => {
        if (a.status === 200) kept.set(key, a);
        answer(res, a);
      },
      (err: Error) => answer(res, { status: 502, type: 'text/plain', body: Buffer.from(err.message) }),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
