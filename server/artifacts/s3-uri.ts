// The artifact URI's syntax, apart from the S3 client: the settings check it at start without loading
// the AWS SDK, which only a server that keeps its artifacts in a bucket needs.

/** `s3://bucket/some/prefix/` -> bucket and canonical prefix; null when it is not such a URI. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) return null;
  const prefix = (m[2] ?? '').split('/').filter((s) => s !== '');
  if (prefix.some((s) => s === '.' || s === '..')) return null;
  return { bucket: m[1], prefix: prefix.join('/') };
}
