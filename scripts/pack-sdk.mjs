// Packs client-sdk (already compiled to client-sdk/dist by the build) into dist/sdk/lablog-client.tgz,
// the tarball the server serves at GET /sdk/lablog-client.tgz, plus dist/sdk/lablog-client.json with
// its name, version and checksums. Part of `npm run build`; needs no network.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'dist', 'sdk');
if (!existsSync(path.join(root, 'client-sdk', 'dist', 'index.js'))) {
  console.error('pack-sdk: client-sdk/dist is not built (run tsc -p client-sdk/tsconfig.json first)');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// --ignore-scripts: the SDK has no pack scripts, and the root's `prepare` must not run (it is the build).
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const json = execFileSync(npm, ['pack', '-w', 'client-sdk', '--ignore-scripts', '--json', '--pack-destination', out], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [info] = JSON.parse(json);
renameSync(path.join(out, info.filename), path.join(out, 'lablog-client.tgz'));
const manifest = { name: info.name, version: info.version, size: info.size, shasum: info.shasum, integrity: info.integrity };
writeFileSync(path.join(out, 'lablog-client.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`pack-sdk: dist/sdk/lablog-client.tgz (${info.name}@${info.version}, ${info.size} bytes)`);
