// Issue 3, item 4 (safety): every traversal attempt is refused with 400 INVALID_PARAMETER_VALUE, sent
// over a real socket with the raw path (nothing normalises it); the same through query parameters;
// symlinks leading out of the root are refused; nothing is ever read, written or removed outside the root.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { artifactBackends, type TestApp } from '../helper.js';
import { assertError, type HttpResult, outsideRoot, putOk, request, type Run, servedRun, stagingLeftovers, tree } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  const SECRET = 'the victim file must never be served, changed or removed';
  const PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'];

  let t: TestApp;
  let port: number;
  let run: Run;
  let outside: string;
  let marker: string;

  beforeEach(async () => {
    ({ t, port, run } = await servedRun({ artifacts: backend }));
    await putOk(t, `${run.rootRel}/inside.txt`, 'inside');
    // A victim beside the artifact root (in the data dir), reachable by four '..' from the run folder.
    writeFileSync(path.join(t.dir, 'victim.txt'), SECRET);
    outside = mkdtempSync(path.join(os.tmpdir(), 'lablog-outside-'));
    writeFileSync(path.join(outside, 'secret.txt'), SECRET);
    marker = `lablog-escape-${process.pid}-${Date.now().toString(36)}`;
  });
  afterEach(async () => {
    await t.close();
    rmSync(outside, { recursive: true, force: true });
  });

  /** The traversal spellings, each aimed at `victim.txt` four levels up (or a fresh marker file). */
  function attacks(target: string): string[] {
    const up4 = (sep: string, dots: string) => `${dots}${sep}`.repeat(4) + target;
    return [
      up4('/', '..'),
      up4('%2f', '..'),
      up4('%2F', '..'),
      up4('/', '%2e%2e'),
      up4('/', '%2E%2E'),
      up4('%2f', '%2e%2e'),
      up4('/', '.%2e'),
      up4('/', '%252e%252e'),
      up4('%252f', '..'),
      up4('\\', '..'),
      up4('%5c', '..'),
      up4('%5C', '..'),
      `${target}%00.png`,
      `sub/..`,
      `sub/%2e%2e`,
      'a'.repeat(300),
      `${'d'.repeat(99)}/`.repeat(20) + target,
    ];
  }

  function assertRefused(res: HttpResult, what: string): void {
    assertError(res, 400, 'INVALID_PARAMETER_VALUE', what);
    assert.ok(!res.text.includes(SECRET), `${what}: the victim's content leaked`);
  }

  function assertNothingOutside(before: { data: string[]; outside: string[] }): void {
    assert.deepEqual(outsideRoot(t), before.data, 'the data dir outside the artifact root changed');
    assert.deepEqual(tree(outside), before.outside, 'the outside directory changed');
    assert.equal(readFileSync(path.join(t.dir, 'victim.txt'), 'utf8'), SECRET);
    assert.deepEqual(stagingLeftovers(t), []);
    for (const dir of [os.tmpdir(), path.dirname(t.dir), t.dir, '/']) {
      assert.equal(existsSync(path.join(dir, marker)), false, `a file appeared at ${path.join(dir, marker)}`);
    }
  }

  const snapshot = () => ({ data: outsideRoot(t), outside: tree(outside) });

  describe('traversal in the URL path, over a real socket', () => {
    it('GET, HEAD, PUT, DELETE and mpu/create refuse every spelling with 400 INVALID_PARAMETER_VALUE', async () => {
      const before = snapshot();
      const insideBefore = await t.stored.tree();
      for (const prefix of PREFIXES) {
        for (const [i, rel] of [...attacks('victim.txt'), ...attacks(marker)].entries()) {
          const at = `${prefix}/artifacts/${run.rootRel}/${rel}`;
          assertRefused(await request(port, 'GET', at), `GET ${at}`);
          assert.equal((await request(port, 'HEAD', at)).status, 400, `HEAD ${at}`);
          assertRefused(await request(port, 'PUT', at, { body: `overwritten ${i}` }), `PUT ${at}`);
          assertRefused(await request(port, 'DELETE', at), `DELETE ${at}`);
          const mpu = `${prefix}/mpu/create/${run.rootRel}/${rel}`;
          assertRefused(
            await request(port, 'POST', mpu, { body: JSON.stringify({ path: rel, num_parts: 1 }), headers: { 'content-type': 'application/json' } }),
            `POST ${mpu}`,
          );
        }
      }
      assertNothingOutside(before);
      assert.deepEqual(await t.stored.tree(), insideBefore, 'nothing changed inside the root either');
    });

    it('refuses absolute-looking and root-escaping paths right after the /artifacts/ prefix', async () => {
      const before = snapshot();
      const paths = [
        '//etc/passwd',
        `//tmp/${marker}`,
        '/../victim.txt',
        '/%2e%2e/victim.txt',
        '/..%2fvictim.txt',
        '/%252e%252e/victim.txt',
        `/..\\${marker}`,
        '/C:/Windows/win.ini',
        '/c:%5cwindows',
      ];
      for (const prefix of PREFIXES) {
        for (const p of paths) {
          const at = `${prefix}/artifacts${p}`;
          const got = await request(port, 'GET', at);
          assertRefused(got, `GET ${at}`);
          assert.ok(!got.text.includes('root:'), `${at} served /etc/passwd`);
          assertRefused(await request(port, 'PUT', at, { body: 'x' }), `PUT ${at}`);
          assertRefused(await request(port, 'DELETE', at), `DELETE ${at}`);
        }
      }
      assertNothingOutside(before);
    });

    it('refuses an overlong-UTF-8 encoded dot-dot (%c0%ae%c0%ae) with INVALID_PARAMETER_VALUE', async () => {
      const before = snapshot();
      const at = `/api/2.0/mlflow-artifacts/artifacts/${run.rootRel}/${'%c0%ae%c0%ae/'.repeat(4)}victim.txt`;
      assertRefused(await request(port, 'GET', at), `GET ${at}`);
      assertRefused(await request(port, 'PUT', at, { body: 'x' }), `PUT ${at}`);
      assertNothingOutside(before);
    });
  });

  describe('traversal in the path query parameter', () => {
    const values = (target: string) => [
      '..',
      '../',
      `../../../../${target}`,
      `sub/../../../../../${target}`,
      `%2e%2e/%2e%2e/${target}`,
      `..%2f..%2f${target}`,
      `%2e%2e%2f%2e%2e%2f${target}`,
      `..\\..\\${target}`,
      `/etc/passwd`,
      `//etc/passwd`,
      `C:\\Windows\\win.ini`,
      `${target}\u0000.png`,
      'a'.repeat(300),
      `${'d'.repeat(99)}/`.repeat(20) + target,
    ];

    it('the listing, run listing, get-artifact and preview endpoints refuse every value (encoded once, and raw)', async () => {
      const before = snapshot();
      for (const v of values('victim.txt')) {
        const q = (extra: Record<string, string>) => new URLSearchParams({ ...extra, path: v }).toString();
        const urls = [
          `/api/2.0/mlflow-artifacts/artifacts?${q({})}`,
          `/ajax-api/2.0/mlflow-artifacts/artifacts?${q({})}`,
          `/api/2.0/mlflow/artifacts/list?${q({ run_id: run.runId })}`,
          `/ajax-api/2.0/mlflow/artifacts/list?${q({ run_id: run.runId })}`,
          `/get-artifact?${q({ run_id: run.runId })}`,
          `/api/2.0/lablog/artifacts/preview?${q({ run_id: run.runId })}`,
        ];
        for (const u of urls) assertRefused(await request(port, 'GET', u), `GET ${u}`);
      }
      // Raw, as an attacker would type them: decoded once, these are traversals (or, for the double
      // encoded ones, still-encoded traversals a second decoder would turn into '..').
      const raws = [
        '../../../../victim.txt',
        '..%2f..%2f..%2f..%2fvictim.txt',
        '%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fvictim.txt',
        '..%5c..%5cvictim.txt',
        'victim.txt%00',
        '%252e%252e/%252e%252e/victim.txt',
        '%252e%252e%252f%252e%252e%252fvictim.txt',
      ];
      for (const raw of raws) {
        for (const u of [
          `/api/2.0/mlflow-artifacts/artifacts?path=${run.rootRel}/${raw}`,
          `/api/2.0/mlflow/artifacts/list?run_id=${run.runId}&path=${raw}`,
          `/get-artifact?run_id=${run.runId}&path=${raw}`,
          `/api/2.0/lablog/artifacts/preview?run_id=${run.runId}&path=${raw}`,
        ]) {
          assertRefused(await request(port, 'GET', u), `GET ${u}`);
        }
      }
      assertNothingOutside(before);
    });
  });

  describe('symlinks inside the artifact root that lead out of it', { skip: backend !== 'local' && 'no symlinks in a bucket' }, () => {
    it('reading, writing, listing and deleting through them are refused and the target is untouched', async () => {
      symlinkSync(outside, path.join(run.dir, 'evil_dir'));
      symlinkSync(path.join(outside, 'secret.txt'), path.join(run.dir, 'evil_file'));
      symlinkSync(outside, path.join(t.artifactsDir, '999'));
      const before = snapshot();
      const api = '/api/2.0/mlflow-artifacts';
      const json = { 'content-type': 'application/json' };
      const file = `${run.rootRel}/evil_file`;
      const inDir = `${run.rootRel}/evil_dir/secret.txt`;

      for (const rel of [file, inDir, '999/secret.txt']) {
        assertRefused(await request(port, 'GET', `${api}/artifacts/${rel}`), `GET ${rel}`);
        assert.equal((await request(port, 'HEAD', `${api}/artifacts/${rel}`)).status, 400, `HEAD ${rel}`);
        assertRefused(await request(port, 'PUT', `${api}/artifacts/${rel}`, { body: 'pwned' }), `PUT ${rel}`);
        assertRefused(await request(port, 'DELETE', `${api}/artifacts/${rel}`), `DELETE ${rel}`);
        assertRefused(await request(port, 'POST', `${api}/mpu/create/${rel}`, { body: JSON.stringify({ path: rel, num_parts: 1 }), headers: json }), `mpu ${rel}`);
      }
      for (const rel of [`${run.rootRel}/evil_dir/new.txt`, `${run.rootRel}/evil_dir/deep/new.txt`, '999/new.txt']) {
        assertRefused(await request(port, 'PUT', `${api}/artifacts/${rel}`, { body: 'pwned' }), `PUT ${rel}`);
      }
      for (const dir of [`${run.rootRel}/evil_dir`, '999']) {
        assertRefused(await request(port, 'GET', `${api}/artifacts?path=${dir}`), `list ${dir}`);
        assertRefused(await request(port, 'DELETE', `${api}/artifacts/${dir}`), `DELETE ${dir}`);
      }
      const q = (p: string) => `run_id=${run.runId}&path=${encodeURIComponent(p)}`;
      for (const p of ['evil_file', 'evil_dir/secret.txt']) {
        assertRefused(await request(port, 'GET', `/get-artifact?${q(p)}`), `get-artifact ${p}`);
        assertRefused(await request(port, 'GET', `/api/2.0/lablog/artifacts/preview?${q(p)}`), `preview ${p}`);
      }
      assertRefused(await request(port, 'GET', `/api/2.0/mlflow/artifacts/list?${q('evil_dir')}`), 'run list evil_dir');

      // The links are not listed as artifacts (they may point anywhere).
      const list = await request(port, 'GET', `${api}/artifacts?path=${run.rootRel}`);
      assert.deepEqual(list.json, { files: [{ path: 'inside.txt', is_dir: false, file_size: 6 }] });
      assertNothingOutside(before);
      assert.equal(readFileSync(path.join(outside, 'secret.txt'), 'utf8'), SECRET);
    });

    it('a PUT below a dangling directory symlink pointing outside is refused with 400 and creates nothing there', async () => {
      symlinkSync(path.join(outside, 'ghost-dir'), path.join(run.dir, 'ghost'));
      const before = snapshot();
      const res = await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${run.rootRel}/ghost/x.txt`, { body: 'pwned' });
      assertRefused(res, 'PUT through a dangling directory symlink');
      assertNothingOutside(before);
      assert.equal(existsSync(path.join(outside, 'ghost-dir')), false);
    });

    it('a PUT onto a dangling file symlink never writes to its outside target', async () => {
      symlinkSync(path.join(outside, 'ghost.txt'), path.join(run.dir, 'ghost.txt'));
      const before = snapshot();
      const res = await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${run.rootRel}/ghost.txt`, { body: 'replaced' });
      // The store refuses any path through a dangling link, since it may point anywhere once written through.
      assertRefused(res, 'PUT onto a dangling file symlink');
      assertNothingOutside(before);
      assert.equal(existsSync(path.join(outside, 'ghost.txt')), false);
    });
  });

  describe('paths that collide with existing entries', () => {
    it('a PUT below an existing file answers 400, not 500, and changes nothing', async () => {
      const before = await t.stored.tree();
      const res = await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${run.rootRel}/inside.txt/child.txt`, { body: 'x' });
      assertError(res, 400, 'INVALID_PARAMETER_VALUE', 'PUT below a file');
      assert.deepEqual(await t.stored.tree(), before);
      assert.deepEqual(await t.stored.leftovers(), []);
    });

    it('reading, listing and deleting below an existing file answer 404 / {} (not 500)', async () => {
      const below = `${run.rootRel}/inside.txt/child.txt`;
      assertError(await request(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts/${below}`), 404, 'RESOURCE_DOES_NOT_EXIST', 'GET');
      assertError(await request(port, 'DELETE', `/api/2.0/mlflow-artifacts/artifacts/${below}`), 404, 'RESOURCE_DOES_NOT_EXIST', 'DELETE');
      const list = await request(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${below}`);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.json, {});
      const runList = await request(port, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.runId}&path=inside.txt/sub`);
      assert.equal(runList.status, 200, runList.text);
      assert.deepEqual(runList.json, { root_uri: `mlflow-artifacts:/${run.rootRel}` });
      const viaUi = await request(port, 'GET', `/get-artifact?run_id=${run.runId}&path=inside.txt/child.txt`);
      assertError(viaUi, 404, 'RESOURCE_DOES_NOT_EXIST', 'get-artifact');
      assert.equal((await t.stored.read(`${run.rootRel}/inside.txt`))?.toString('utf8'), 'inside');
    });

    it('a PUT onto an existing directory answers 400 and keeps the directory', async () => {
      await putOk(t, `${run.rootRel}/folder/a.txt`, 'a');
      await t.stored.mkdir(`${run.rootRel}/folder/sub`);
      const before = await t.stored.tree();
      assertError(await request(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${run.rootRel}/folder`, { body: 'x' }), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await t.stored.tree(), before);
      assert.deepEqual(await t.stored.leftovers(), []);
    });
  });
});
}
