// Bundles the server's two entry points (dist/server/main.js, dist/server/cli.js, as tsc wrote them)
// into themselves: one ESM file each plus shared and lazily loaded chunks beside them. Part of
// `npm run build`, after tsc. Why: Node 20 has no module compile cache, and resolving, reading and
// compiling the ~700 files the server loads (ours, zod, fastify and its plugins) was about half of the
// start-up's CPU; one file compiles lazily and is read once. Every other file under dist/ (the tests',
// the workers') stays tsc's, so the tests still import the modules one by one.
//
// What stays outside the bundle, loaded from node_modules at run time: better-sqlite3 (a native addon),
// pg and the AWS SDK, which only a PostgreSQL or S3 server loads, through dynamic imports that become
// chunks of their own, and what Fastify requires only on demand (see `external`) (test/startup-imports.test.ts checks a SQLite server loads none of them,
// reading dist/server/bundle-inputs.json to see which sources each loaded chunk holds).
import * as esbuild from 'esbuild';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverDir = path.join(root, 'dist', 'server');
const rel = (to) => JSON.stringify('./' + path.relative(serverDir, to).split(path.sep).join('/'));

// Every output file lands in dist/server itself, so a path relative to it is right in any of them.
// The entry points are bundled into themselves, so a second run would bundle the bundle: the banner
// marks a bundled file, and only a fresh tsc output is taken.
const MARK = '// bundled by scripts/bundle-server.mjs';
for (const entry of ['main.js', 'cli.js']) {
  if ((await readFile(path.join(serverDir, entry), 'utf8')).startsWith(MARK)) {
    console.error(`bundle-server: dist/server/${entry} is already bundled; run the whole \`npm run build\``);
    process.exit(1);
  }
}

const relocate = {
  name: 'relocate',
  setup(build) {
    // Our modules find files (web/dist, migrations, package.json, the worker scripts) relative to
    // their own URL: it becomes the URL their tsc file has, not the bundle's.
    build.onLoad({ filter: /[\\/]dist[\\/]server[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replaceAll('import.meta.url', `new URL(${rel(args.path)}, import.meta.url).href`), loader: 'js' };
    });
    // CommonJS packages that read files next to themselves (@fastify/swagger its package.json, pino's
    // transports their workers) get their own __dirname and __filename, which ESM output lacks.
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      const own = `var __filename = __lablogPath(${rel(args.path)}), __dirname = __lablogDir(__filename);\n`;
      return { contents: own + source, loader: 'js' };
    });
  },
};

const result = await esbuild.build({
  entryPoints: [path.join(serverDir, 'main.js'), path.join(serverDir, 'cli.js')],
  outdir: serverDir,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  absWorkingDir: root,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [
    'better-sqlite3',
    'pg',
    'pg-*',
    '@aws-sdk/*',
    '@smithy/*',
    // Fastify requires these only when asked to: Ajv and fast-json-stringify when no compilers are
    // given (app.ts gives zod's), light-my-request for app.inject(), which only the tests use.
    '@fastify/ajv-compiler',
    '@fastify/fast-json-stringify-compiler',
    'light-my-request',
  ],
  // The CommonJS packages (fastify and most of its plugins) call require() for Node's own modules.
  banner: {
    js: [
      MARK,
      "import { createRequire as __lablogRequire } from 'node:module';",
      "import { fileURLToPath as __lablogPath0 } from 'node:url';",
      "import { dirname as __lablogDir } from 'node:path';",
      'const require = __lablogRequire(import.meta.url);',
      'const __lablogPath = (p) => __lablogPath0(new URL(p, import.meta.url));',
    ].join('\n'),
  },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [relocate],
});

const inputs = {};
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.map')) continue;
  inputs[path.relative(serverDir, path.resolve(root, file)).split(path.sep).join('/')] = Object.keys(out.inputs).sort();
}
await writeFile(path.join(serverDir, 'bundle-inputs.json'), JSON.stringify(inputs, null, 1) + '\n');
