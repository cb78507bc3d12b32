// Issue 3, item 5: GET /api/2.0/lablog/artifacts/preview?run_id=&path= gives images as themselves and
// the first 1 MiB of text, CSV and JSON with the total size; binaries without content.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { artifactBackends, type TestApp } from '../helper.js';
import { assertError, inject, MiB, putOk, request, type Run, servedRun } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  let t: TestApp;
  let port: number;
  let run: Run;

  beforeEach(async () => {
    ({ t, port, run } = await servedRun({ artifacts: backend }));
  });
  afterEach(() => t.close());

  const preview = (p: string, idKey: 'run_id' | 'run_uuid' = 'run_id') =>
    request(port, 'GET', `/api/2.0/lablog/artifacts/preview?${new URLSearchParams({ [idKey]: run.runId, path: p })}`);

  /** Puts `body` at `name` and previews it; asserts a 200 JSON answer. */
  async function previewJson(name: string, body: Buffer | string) {
    await putOk(t, `${run.rootRel}/${name}`, body);
    const res = await preview(name);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.match(String(res.headers['content-type']), /^application\/json/);
    return res.json;
  }

  const IMAGES: [string, string, Buffer][] = [
    ['plot.png', 'image/png', Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')],
    ['photo.jpg', 'image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9])],
    ['photo.jpeg', 'image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 0xff, 0xd9])],
    ['anim.gif', 'image/gif', Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')],
    ['pic.webp', 'image/webp', Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x1a, 0, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.alloc(14, 0x2a)])],
  ];

  describe('image previews', () => {
    it('png, jpeg, gif and webp come back as their bytes with the right Content-Type', async () => {
      for (const [name, type, bytes] of IMAGES) {
        await putOk(t, `${run.rootRel}/images/${name}`, bytes);
        for (const key of ['run_id', 'run_uuid'] as const) {
          const res = await preview(`images/${name}`, key);
          assert.equal(res.status, 200, `${name}: ${res.text.slice(0, 200)}`);
          assert.equal(res.headers['content-type'], type, name);
          assert.equal(res.headers['content-length'], String(bytes.length), name);
          assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
          assert.ok(res.body.equals(bytes), `${name} bytes`);
        }
      }
    });

    it('an SVG is not served as an image: it comes back as JSON text, never image/svg+xml', async () => {
      const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
      const json = await previewJson('vector.svg', svg);
      assert.equal(json.kind, 'text');
      assert.equal(json.content, svg);
      assert.doesNotMatch(json.content_type, /svg|html/);
    });
  });

  describe('text previews', () => {
    it('a 3 MiB text file: kind text, total_size 3145728, truncated, content exactly the first 1 MiB', async () => {
      const lines: string[] = [];
      let size = 0;
      for (let i = 0; size < 3 * MiB; i++) {
        const line = `step ${String(i).padStart(7, '0')} loss=${(1 / (i + 1)).toFixed(6)}\n`;
        lines.push(line);
        size += line.length;
      }
      const text = lines.join('').slice(0, 3 * MiB);
      assert.equal(Buffer.byteLength(text), 3 * MiB);
      const json = await previewJson('logs/train.log', text);
      assert.equal(json.path, 'logs/train.log');
      assert.equal(json.kind, 'text');
      assert.equal(json.content_type, 'text/plain; charset=utf-8');
      assert.equal(json.total_size, 3145728);
      assert.equal(json.truncated, true);
      assert.equal(Buffer.byteLength(json.content), MiB);
      assert.equal(json.content, text.slice(0, MiB));
    });

    it('a small text file whole, and an empty one', async () => {
      assert.deepEqual(await previewJson('notes.txt', 'hello\nworld\n'), {
        path: 'notes.txt',
        kind: 'text',
        content_type: 'text/plain; charset=utf-8',
        total_size: 12,
        truncated: false,
        content: 'hello\nworld\n',
      });
      const empty = await previewJson('empty.txt', '');
      assert.equal(empty.kind, 'text');
      assert.equal(empty.total_size, 0);
      assert.equal(empty.truncated, false);
      assert.equal(empty.content, '');
    });

    it('exactly 1 MiB is not truncated; 1 MiB + 1 is', async () => {
      const exact = await previewJson('exact.txt', 'x'.repeat(MiB));
      assert.equal(exact.truncated, false);
      assert.equal(exact.content.length, MiB);
      const over = await previewJson('over.txt', 'y'.repeat(MiB + 1));
      assert.equal(over.truncated, true);
      assert.equal(over.total_size, MiB + 1);
      assert.equal(over.content, 'y'.repeat(MiB));
    });

    it('CSV is kind csv and JSON is kind json, with their content', async () => {
      const csv = 'epoch,loss,acc\n1,0.9,0.5\n2,0.4,0.8\n';
      const c = await previewJson('metrics.csv', csv);
      assert.equal(c.kind, 'csv');
      assert.equal(c.content, csv);
      assert.equal(c.total_size, csv.length);
      assert.equal(c.truncated, false);
      const jsonText = JSON.stringify({ lr: 0.001, layers: [64, 64], name: 'résumé' }, null, 2);
      const j = await previewJson('config.json', jsonText);
      assert.equal(j.kind, 'json');
      assert.equal(j.content_type, 'application/json');
      assert.equal(j.content, jsonText);
      assert.equal(j.total_size, Buffer.byteLength(jsonText));
    });

    it('a binary file is kind binary, with its size and no content', async () => {
      const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff));
      for (const name of ['weights.pt', 'blob.bin', 'looks-like.txt']) {
        const json = await previewJson(name, bytes);
        assert.equal(json.kind, 'binary', name);
        assert.equal(json.total_size, 4096, name);
        assert.equal('content' in json, false, `${name} has no content`);
      }
    });
  });

  describe('a UTF-8 character cut at the 1 MiB boundary', () => {
    const cases: [string, number][] = [
      ['é', 1],
      ['€', 1],
      ['€', 2],
      ['😀', 1],
      ['😀', 2],
      ['😀', 3],
    ];
    for (const [ch, inside] of cases) {
      it(`${ch} with ${inside} of its ${Buffer.byteLength(ch)} bytes inside the first MiB is dropped whole, no U+FFFD`, async () => {
        const body = 'a'.repeat(MiB - inside) + ch + 'tail';
        const json = await previewJson('cut.txt', body);
        assert.equal(json.truncated, true);
        assert.equal(json.total_size, Buffer.byteLength(body));
        assert.ok(!json.content.includes('\uFFFD'), 'no replacement character');
        assert.equal(json.content, 'a'.repeat(MiB - inside));
      });
    }

    it('a character ending exactly at the boundary is kept, and a text of multibyte characters loses only the cut one', async () => {
      const whole = await previewJson('whole.txt', 'a'.repeat(MiB - 3) + '€' + 'more');
      assert.equal(whole.content, 'a'.repeat(MiB - 3) + '€');
      const euros = '€'.repeat(Math.ceil(MiB / 3) + 10);
      const json = await previewJson('euros.txt', euros);
      assert.equal(json.content, '€'.repeat(Math.floor(MiB / 3)));
    });
  });

  describe('text that is not cut', () => {
    it('a small file whose last character is a genuine U+FFFD keeps it (only a cut character is dropped)', async () => {
      const text = 'decoded with errors: \uFFFD';
      const json = await previewJson('replacement.txt', text);
      assert.equal(json.truncated, false);
      assert.equal(json.content, text);
    });
  });

  describe('preview errors', () => {
    it('404 for a missing file, a directory and an unknown run; 400 without path or run id', async () => {
      await putOk(t, `${run.rootRel}/dir/f.txt`, 'x');
      assertError(await preview('missing.txt'), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await preview('dir'), 404, 'RESOURCE_DOES_NOT_EXIST');
      const unknown = await inject(t, 'GET', `/api/2.0/lablog/artifacts/preview?run_id=${'e'.repeat(32)}&path=dir/f.txt`);
      assertError(unknown, 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await inject(t, 'GET', `/api/2.0/lablog/artifacts/preview?run_id=${run.runId}`), 400, 'INVALID_PARAMETER_VALUE');
      assertError(await inject(t, 'GET', `/api/2.0/lablog/artifacts/preview?path=dir/f.txt`), 400, 'INVALID_PARAMETER_VALUE');
    });
  });
});
}
