import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LablogError, StorageUnavailableError } from '../errors.js';
import type { Probe } from '../storage/probe.js';
import { parseS3Uri } from './s3-uri.js';

export interface S3Location {
  client: S3Client;
  bucket: string;
  /** Key prefix of the artifact root, without leading or trailing slash ('' for the bucket's root). */
  prefix: string;
}


/**
 * An S3 client configured the way the AWS tools are: AWS_REGION (or AWS_DEFAULT_REGION), the usual
 * credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles), and
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for an S3-compatible service. With an endpoint, buckets are
 * addressed by path (`http://host:9000/bucket/key`): MinIO and most others have no per-bucket DNS.
 */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return new S3Client({
    // Keys in `env` are used as given; without them the SDK's chain (profiles, roles, process.env) applies.
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined } : undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: endpoint !== undefined,
    // Newer SDKs add CRC checksums to every request and answer; many S3-compatible services reject or
    // lack them. Only where S3 requires one (DeleteObjects) is it sent.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function openS3Location(uri: string, env: NodeJS.ProcessEnv = process.env): S3Location {
  const parsed = parseS3Uri(uri);
  if (!parsed) throw new Error(`'${uri}' is not an s3://bucket/prefix URI`);
  return { ...parsed, client: s3ClientFromEnv(env) };
}

/** Errors of a request body (the client's doing: a dropped connection), never taken for the storage's. */
const CLIENT_SIDE = new WeakSet<object>();
export function clientSide(err: unknown): unknown {
  if (err && typeof err === 'object') CLIENT_SIDE.add(err);
  return err;
}

/** Why S3 failed, in words a client may read; null when it is not the storage's doing (a missing key, our own errors). */
export function s3FaultReason(err: unknown, where: string): string | null {
  if (err instanceof LablogError || CLIENT_SIDE.has(err as object)) return null;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? '';
  const status = e?.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return `${where} does not exist (NoSuchBucket)`;
  if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'CredentialsProviderError'].includes(name) || status === 403) {
    return `the server is not allowed to use ${where} (${name || status})`;
  }
  const net = e?.code ?? name;
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'TimeoutError'].includes(net)) return `${where} cannot be reached (${net})`;
  if (status !== undefined && status >= 500) return `the S3 service holding ${where} answered ${status} (${name})`;
  return null;
}

/**
 * A write S3 refused is StorageUnavailableError (503, and /health shows it); a read it refused is a
 * plain 503 (nothing to store, so storage is not marked unwritable).
 */
export function s3Fault(err: unknown, where: string, kind: 'read' | 'write'): LablogError | null {
  const reason = s3FaultReason(err, where);
  if (reason === null) return null;
  return kind === 'write' ? new StorageUnavailableError(reason) : new LablogError('TEMPORARILY_UNAVAILABLE', `Artifact storage unavailable: ${reason}. Try again later.`);
}

/** Writes and removes a small object beside the root: the sure test that the bucket takes writes. */
export async function probeS3(loc: S3Location, stagingPrefix: string): Promise<Probe> {
  const where = `the artifact bucket '${loc.bucket}'`;
  const Key = `${stagingPrefix}probe-${randomUUID()}`;
  try {
    await loc.client.send(new PutObjectCommand({ Bucket: loc.bucket, Key, Body: 'lablog storage probe' }));
    await loc.client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key }));
    return { writable: true, freeBytes: null };
  } catch (err) {
    const reason = s3FaultReason(err, where) ?? `writing to ${where} failed (${(err as Error).name}: ${(err as Error).message})`;
    return { writable: false, reason, code: (err as Error).name ?? null, freeBytes: null };
  }
}
