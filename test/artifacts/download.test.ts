// Issue 3, items 3-4 (downloads): Content-Type, Content-Length, ETag and 304, Range requests and 416,
// nosniff, scriptable types only as attachments, /get-artifact always an attachment, HEAD.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { artifactBackends, type TestApp } from '../helper.js';
import { artUrl, assertError, inject, putOk, request, type Run, servedRun } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  let t: TestApp;
  let port: number;
  let run: Run;

  beforeEach(async () => {
    ({ t, port, run } = await servedRun({ artifacts: backend }));
  });
  afterEach(() => t.close());

  const url = (name: string) => artUrl(`${run.rootRel}/${name}`);
  const getArtifact = (q: Record<string, string>, method: 'GET' | 'HEAD' = 'GET', headers: Record<string, string> = {}) =>
    request(port, method, `/get-artifact?${new URLSearchParams(q)}`, { headers });

  /** 100 bytes 0..99, so any range is easy to check. */
  const HUNDRED = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

  describe('plain downloads', () => {
    it('sets Content-Type by extension, Content-Length, ETag, Accept-Ranges and nosniff', async () => {
      const cases: [string, string][] = [
        ['log.txt', 'text/plain; charset=utf-8'],
        ['train.log', 'text/plain; charset=utf-8'],
        ['table.csv', 'text/csv; charset=utf-8'],
        ['metrics.json', 'application/json'],
        ['README.md', 'text/markdown; charset=utf-8'],
        ['plot.png', 'image/png'],
        ['photo.jpg', 'image/jpeg'],
        ['photo.JPEG', 'image/jpeg'],
        ['anim.gif', 'image/gif'],
        ['pic.webp', 'image/webp'],
        ['report.pdf', 'application/pdf'],
        ['weights.pt', 'application/octet-stream'],
        ['no-extension', 'application/octet-stream'],
        ['strange.xyz', 'application/octet-stream'],
      ];
      for (const [name, type] of cases) {
        const body = Buffer.from(`content of ${name}`);
        await putOk(t, `${run.rootRel}/${name}`, body);
        const res = await request(port, 'GET', url(name));
        assert.equal(res.status, 200, `${name}: ${res.text}`);
        assert.ok(res.body.equals(body), name);
        assert.equal(res.headers['content-type'], type, name);
        assert.equal(res.headers['content-length'], String(body.length), name);
        assert.match(String(res.headers.etag), /^"[^"]+"$/, `${name}: strong ETag`);
        assert.equal(res.headers['accept-ranges'], 'bytes', name);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
        assert.equal(res.headers['content-disposition'], undefined, `${name} is not forced to download`);
      }
    });

    it('answers 404 for a missing file and for a directory', async () => {
      await putOk(t, `${run.rootRel}/dir/f.txt`, 'x');
      assertError(await request(port, 'GET', url('missing.txt')), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await request(port, 'GET', url('dir')), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('HEAD gives the headers of GET and no body', async () => {
      await putOk(t, `${run.rootRel}/h.csv`, 'a,b\n1,2\n');
      const get = await request(port, 'GET', url('h.csv'));
      const head = await request(port, 'HEAD', url('h.csv'));
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      for (const h of ['content-type', 'content-length', 'etag', 'x-content-type-options', 'accept-ranges']) {
        assert.equal(head.headers[h], get.headers[h], h);
      }
      assert.equal(head.headers['content-length'], '8');
      assert.equal((await request(port, 'HEAD', url('missing.txt'))).status, 404);
    });
  });

  describe('conditional requests', () => {
    it('If-None-Match with the current ETag answers 304 without a body; another ETag gets 200', async () => {
      await putOk(t, `${run.rootRel}/c.txt`, 'cached');
      const first = await request(port, 'GET', url('c.txt'));
      const etag = String(first.headers.etag);
      const cached = await request(port, 'GET', url('c.txt'), { headers: { 'if-none-match': etag } });
      assert.equal(cached.status, 304);
      assert.equal(cached.body.length, 0);
      assert.equal(cached.headers.etag, etag);
      const listed = await request(port, 'GET', url('c.txt'), { headers: { 'if-none-match': `"other", ${etag}` } });
      assert.equal(listed.status, 304);
      const stale = await request(port, 'GET', url('c.txt'), { headers: { 'if-none-match': '"not-it"' } });
      assert.equal(stale.status, 200);
      assert.equal(stale.text, 'cached');

      await putOk(t, `${run.rootRel}/c.txt`, 'changed');
      const after = await request(port, 'GET', url('c.txt'), { headers: { 'if-none-match': etag } });
      assert.equal(after.status, 200, 'an old ETag no longer matches after an overwrite');
      assert.equal(after.text, 'changed');
      assert.notEqual(after.headers.etag, etag);
    });
  });

  describe('Range requests', () => {
    async function range(spec: string, extra: Record<string, string> = {}) {
      return request(port, 'GET', url('hundred.bin'), { headers: { range: spec, ...extra } });
    }

    it('bytes=0-9, bytes=10-, bytes=-5, bytes=99-99, and an end past the size clamped', async () => {
      await putOk(t, `${run.rootRel}/hundred.bin`, HUNDRED);
      const cases: [string, number, number][] = [
        ['bytes=0-9', 0, 9],
        ['bytes=10-', 10, 99],
        ['bytes=-5', 95, 99],
        ['bytes=99-99', 99, 99],
        ['bytes=90-1000', 90, 99],
        ['bytes=-500', 0, 99],
      ];
      for (const [spec, start, end] of cases) {
        const res = await range(spec);
        assert.equal(res.status, 206, spec);
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/100`, spec);
        assert.equal(res.headers['content-length'], String(end - start + 1), spec);
        assert.ok(res.body.equals(HUNDRED.subarray(start, end + 1)), `${spec} bytes`);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', spec);
      }
    });

    it('a range starting past the end answers 416 with Content-Range bytes */size', async () => {
      await putOk(t, `${run.rootRel}/hundred.bin`, HUNDRED);
      for (const spec of ['bytes=100-', 'bytes=100-200', 'bytes=5000-6000', 'bytes=-0']) {
        const res = await range(spec);
        assertError(res, 416, 'INVALID_PARAMETER_VALUE', spec);
        assert.equal(res.headers['content-range'], 'bytes */100', spec);
      }
    });

    it('an If-Range with a stale ETag sends the whole file; a matching one honours the range', async () => {
      await putOk(t, `${run.rootRel}/hundred.bin`, HUNDRED);
      const etag = String((await request(port, 'HEAD', url('hundred.bin'))).headers.etag);
      const stale = await range('bytes=0-9', { 'if-range': '"stale"' });
      assert.equal(stale.status, 200);
      assert.ok(stale.body.equals(HUNDRED));
      const fresh = await range('bytes=0-9', { 'if-range': etag });
      assert.equal(fresh.status, 206);
      assert.ok(fresh.body.equals(HUNDRED.subarray(0, 10)));
    });
  });

  describe('scriptable files are never rendered from our origin', () => {
    const scriptable = ['page.html', 'page.htm', 'PAGE.HTML', 'icon.svg', 'app.js', 'mod.mjs', 'doc.xhtml', 'data.xml'];

    it('HTML, SVG, JS ... come as attachments, not as text/html, image/svg+xml or script types', async () => {
      for (const name of scriptable) {
        const body = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.cookie)</script></svg>');
        await putOk(t, `${run.rootRel}/${name}`, body);
        for (const prefix of ['/api/2.0', '/ajax-api/2.0']) {
          const res = await request(port, 'GET', artUrl(`${run.rootRel}/${name}`, prefix));
          assert.equal(res.status, 200, name);
          assert.ok(res.body.equals(body), `${name} bytes`);
          const type = String(res.headers['content-type']);
          assert.doesNotMatch(type, /html|svg|javascript|ecmascript|xml/i, `${name} served as ${type}`);
          assert.match(String(res.headers['content-disposition']), /^attachment\b/, `${name} disposition`);
          assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
        }
      }
    });
  });

  describe('GET /get-artifact (the UI download)', () => {
    it('is always an attachment with nosniff and the file name, even for text and images', async () => {
      await putOk(t, `${run.rootRel}/plots/loss.png`, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
      await putOk(t, `${run.rootRel}/notes.txt`, 'hello');
      await putOk(t, `${run.rootRel}/x.html`, '<script>alert(1)</script>');
      for (const [p, type, bytes] of [
        ['plots/loss.png', 'image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])],
        ['notes.txt', 'text/plain; charset=utf-8', Buffer.from('hello')],
        ['x.html', null, Buffer.from('<script>alert(1)</script>')],
      ] as const) {
        const res = await getArtifact({ run_id: run.runId, path: p });
        assert.equal(res.status, 200, `${p}: ${res.text}`);
        assert.ok(res.body.equals(bytes), p);
        const base = p.split('/').pop()!;
        assert.match(String(res.headers['content-disposition']), new RegExp(`^attachment;.*${base.replace('.', '\\.')}`), p);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', p);
        assert.equal(res.headers['content-length'], String(bytes.length), p);
        if (type) assert.equal(res.headers['content-type'], type, p);
        else assert.doesNotMatch(String(res.headers['content-type']), /html/, p);
      }
      const viaUuid = await getArtifact({ run_uuid: run.runId, path: 'notes.txt' });
      assert.equal(viaUuid.text, 'hello');
      assert.match(String(viaUuid.headers['content-disposition']), /^attachment/);
    });

    it('supports HEAD and Range, and refuses what is not there', async () => {
      await putOk(t, `${run.rootRel}/hundred.bin`, HUNDRED);
      const head = await getArtifact({ run_id: run.runId, path: 'hundred.bin' }, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], '100');
      assert.match(String(head.headers['content-disposition']), /^attachment/);
      const part = await getArtifact({ run_id: run.runId, path: 'hundred.bin' }, 'GET', { range: 'bytes=-5' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(HUNDRED.subarray(95)));

      assertError(await getArtifact({ run_id: run.runId, path: 'nope.txt' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await getArtifact({ run_id: 'f'.repeat(32), path: 'hundred.bin' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await getArtifact({ run_id: run.runId }), 400, 'INVALID_PARAMETER_VALUE');
      assertError(await getArtifact({ run_id: run.runId, path: '' }), 400, 'INVALID_PARAMETER_VALUE');
      assertError(await getArtifact({ path: 'hundred.bin' }), 400, 'INVALID_PARAMETER_VALUE');
    });

    it('is the same file the proxied API serves (inject path too)', async () => {
      await putOk(t, `${run.rootRel}/same.bin`, HUNDRED);
      const a = await inject(t, 'GET', `/get-artifact?run_id=${run.runId}&path=same.bin`);
      const b = await inject(t, 'GET', url('same.bin'));
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.ok(a.body.equals(HUNDRED));
      assert.ok(b.body.equals(HUNDRED));
      assert.match(String(a.headers.etag), /^"[^"]+"$/);
      assert.equal(a.headers.etag, b.headers.etag);
    });
  });
});
}
