/**
 * A real S3-compatible server for tests: s3rver in a child process (support/s3rver-main.ts) on a free
 * loopback port, its objects in a temp dir. One per test process, started on first use; it stops
 * when this process exits (its stdin closes), and the temp dir is removed then. Each test app gets a
 * bucket of its own, so suites never see each other's keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientFromEnv, type S3Location } from '../../server/artifacts/s3-location.js';

const MAIN = fileURLToPath(new URL('./s3rver-main.js', import.meta.url));

/** s3rver checks signatures against these fixed credentials. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface S3Server {
  endpoint: string;
  /** The AWS_* variables a lablog process needs to reach it. */
  env: Record<string, string>;
  client: S3Client;
  child: ChildProcess;
  /** Where s3rver keeps its objects. */
  dir: string;
  stop(): Promise<void>;
}

/** Starts a new s3rver process; callers stop it (the shared one stops at exit). */
export async function startS3rver(): Promise<S3Server> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', MAIN, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  // Both endpoint variables: one set on the machine (AWS_ENDPOINT_URL_S3 wins) must not lead a test elsewhere.
  const env = { ...S3RVER_CREDENTIALS, AWS_ENDPOINT_URL: endpoint, AWS_ENDPOINT_URL_S3: endpoint };
  let stopped: Promise<void> | null = null;
  return {
    endpoint,
    env,
    client: s3ClientFromEnv(env),
    child,
    dir,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        if (child.exitCode !== null) resolve();
        else child.stdin!.end();
      }).finally(() => rmSync(dir, { recursive: true, force: true }))),
  };
}

let shared: Promise<S3Server> | null = null;
let buckets = 0;

/** The test process's s3rver, started on first use. */
export function sharedS3(): Promise<S3Server> {
  if (!shared) {
    shared = startS3rver();
    void shared.then((s) => {
      // Not the exit handler's job to wait: closing stdin is enough for the child to stop itself.
      s.child.unref();
      (s.child.stdin as unknown as { unref?: () => void }).unref?.();
      (s.child.stdout as unknown as { unref?: () => void }).unref?.();
      process.once('exit', () => {
        s.child.kill();
        rmSync(s.dir, { recursive: true, force: true });
      });
    });
  }
  return shared;
}

/** A new, empty bucket on the shared s3rver (or `on`); `prefix` is the artifact root's key prefix. */
export async function freshBucket(prefix = 'artifacts', on?: S3Server): Promise<S3Location & { uri: string; server: S3Server }> {
  const server = on ?? (await sharedS3());
  const bucket = `lablog-${process.pid}-${++buckets}`;
  await server.client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { client: server.client, bucket, prefix, uri: `s3://${bucket}/${prefix}`, server };
}
