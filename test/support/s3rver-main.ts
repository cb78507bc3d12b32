// A real s3rver in its own process (started by support/s3.ts): it listens on a free loopback port,
// keeps its objects in the directory given as argv[2] (with the buckets named after it, created if
// missing), prints its port as one JSON line, and stops
// when its stdin closes, so it never outlives the test process that started it, however that ends.
// It runs with --openssl-legacy-provider: s3rver makes continuation tokens with DES, which OpenSSL 3
// keeps only there (without it every truncated listing answers 500).
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

/**
 * s3rver 3.7 lists in directory order (not key order, so pages skip and repeat keys past 1,000) and its
 * delimited listing stops one folder below the prefix (`a/` over the only key `a/b/c` shows no `a/b/`),
 * where S3 and MinIO do neither. Tests must see S3's answer, so every listing is computed here from the
 * full recursive one, sorted by key bytes as S3 sorts. Only keys count toward max-keys and the
 * continuation token is the page's last key, as s3rver's controller builds it.
 */
const original = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function (bucket, options) {
  const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
  const all = await original.call(this, bucket, { prefix, maxKeys: Infinity });
  const after = Buffer.from(startAfter);
  const sorted = all.objects
    .map((o) => ({ o, bytes: Buffer.from(o.key) }))
    .filter(({ bytes }) => Buffer.compare(bytes, after) > 0)
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ o }) => o);
  const commonPrefixes = new Set<string>();
  const objects: typeof all.objects = [];
  let isTruncated = false;
  for (const o of sorted) {
    const idx = delimiter ? o.key.slice(prefix.length).indexOf(delimiter) : -1;
    if (idx !== -1) {
      commonPrefixes.add(o.key.slice(0, prefix.length + idx + 1));
    } else if (objects.length < maxKeys) {
      objects.push(o);
    } else {
      isTruncated = true;
      break;
    }
  }
  // Prefixes past the page's last key belong to the next page.
  const last = isTruncated ? objects[objects.length - 1].key : null;
  const shown = [...commonPrefixes].filter((p) => last === null || p < last).sort();
  return { objects, commonPrefixes: shown, isTruncated };
};

const [directory, ...buckets] = process.argv.slice(2);
const port = Number(process.env.S3RVER_PORT ?? 0);
const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, resetOnClose: port === 0, configureBuckets: buckets.map((name) => ({ name })) });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.close().finally(() => process.exit(0)));
