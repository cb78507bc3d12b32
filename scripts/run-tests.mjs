// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner. Node 20's --test
// takes no globs, so the files are listed here. Extra arguments are passed through (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve('dist/test');
const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(root)
  // Matched against the path under dist/ (test/...), so a checkout folder's own name (say wt-docker) never matches.
  .filter((f) => filter.length === 0 || filter.some((s) => path.relative(path.dirname(root), f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
