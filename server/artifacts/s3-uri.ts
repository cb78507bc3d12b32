// Apart from s3-location.ts, which loads the AWS SDK: settings are checked at every start, and the
// SDK costs a quarter of a second of start-up that a server keeping artifacts on disk never needs.

/** `s3://bucket/some/prefix/` -> bucket and canonical prefix; null when it is not such a URI. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) return null;
  const prefix = (m[2] ?? '').split('/').filter((s) => s !== '');
  if (prefix.some((s) => s === '.' || s === '..')) return null;
  return { bucket: m[1], prefix: prefix.join('/') };
}
