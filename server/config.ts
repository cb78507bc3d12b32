import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseS3Uri } from './artifacts/s3-uri.js';
import { DEFAULT_LIMITS } from './http/limits.js';

/** A comma-separated list in one setting. */
const list = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean));

const artifactsUri = z
  .string()
  .refine((v) => parseS3Uri(v) !== null, 'artifacts URI must look like s3://bucket/prefix (a bucket name of 3 to 63 lowercase letters, digits, dots or dashes)');

/** Every setting lablog reads. Sources, strongest first: CLI flags, LABLOG_* env vars, defaults. */
export const configSchema = z.object({
  host: z.string().min(1, 'host must not be empty').default('127.0.0.1'),
  // A blank value must not coerce to 0 (which would mean "any free port").
  port: z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() === '' ? NaN : v),
      z.coerce
        .number({ message: 'port must be a number' })
        .int('port must be a whole number')
        .min(0, 'port must be between 0 and 65535')
        .max(65535, 'port must be between 0 and 65535'),
    )
    .default(5000),
  dataDir: z.string().min(1, 'data dir must not be empty').default('./lablog-data'),
  /**
   * A PostgreSQL URL puts the tracking data in that database (several servers can share it); unset,
   * it lives in SQLite in the data dir. Artifacts stay in the data dir either way.
   */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/i, 'database URL must look like postgres://user:password@host:5432/database')
    .optional(),
  /**
   * `s3://bucket/prefix` keeps artifacts in S3 or an S3-compatible service (endpoint, region and
   * credentials from the AWS_* variables); unset, they live in `<dataDir>/artifacts`.
   */
  artifactsUri: artifactsUri.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest artifact accepted (single upload or assembled multipart upload); larger ones get 413. */
  maxArtifactBytes: z.coerce.number().int().min(1).default(10 * 1024 ** 3),
  /** Cap for request bodies other than artifact uploads (log-batch has its own 1,000,000-byte cap). */
  bodyLimit: z.coerce.number().int().min(1024).default(8 * 1024 * 1024),
  /** Open connections at once (server/http/limits.ts); the next ones are dropped. */
  maxConnections: z.coerce.number().int().min(1).default(DEFAULT_LIMITS.maxConnections),
  /** Seconds for a request's headers to arrive. */
  headersTimeout: z.coerce.number().positive().default(DEFAULT_LIMITS.headersTimeout),
  /** Seconds for a JSON body to arrive after its headers (artifact uploads are exempt). */
  bodyTimeout: z.coerce.number().positive().default(DEFAULT_LIMITS.bodyTimeout),
  /** Seconds a connection may stay silent both ways before it is closed. */
  idleTimeout: z.coerce.number().positive().default(DEFAULT_LIMITS.idleTimeout),
  /** MiB of repeated search and history answers kept until the next write (SQLite only; 0: none). */
  answerCacheMb: z.coerce.number().min(0).default(64),

  // Team hosting (docs/auth.md).
  auth: z
    .enum(['on', 'off', 'true', 'false', '1', '0'], { message: "auth must be 'on' or 'off'" })
    .default('off')
    .transform((v) => v === 'on' || v === 'true' || v === '1'),
  adminUsername: z.string().regex(/^[\w.@+-]{1,255}$/, 'admin username: 1 to 255 letters, digits or . _ @ + -').default('admin'),
  adminPassword: z.string().min(8, 'the admin password must be at least 8 characters').optional(),
  defaultPermission: z.enum(['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE']).default('READ'),
  /** Requests per minute per credential (0: no limit). */
  rateLimit: z.coerce.number().int().min(0).default(120_000),
  loginMaxFailures: z.coerce.number().int().min(1).default(10),
  corsOrigins: list,
  sessionTtlHours: z.coerce.number().positive().default(168),
  publicUrl: z.url({ message: 'public URL must be a URL' }).optional(),
  oidcIssuer: z.url({ message: 'OIDC issuer must be a URL' }).optional(),
  oidcClientId: z.string().min(1).optional(),
  oidcClientSecret: z.string().min(1).optional(),
  oidcDefaultRole: z.enum(['admin', 'editor', 'viewer']).default('viewer'),
  /** `claim=value`: users whose claim holds the value (or a list containing it) are admins. */
  oidcAdminClaim: z.string().regex(/^[^=]+=.+$/, "OIDC admin claim must look like 'claim=value'").optional(),
  trustedProxyHeader: z.string().regex(/^[A-Za-z0-9-]+$/, 'trusted proxy header must be a header name').optional(),
  trustedProxies: list,
})
  // Single sign-on needs all three of its settings, and a public URL to build the redirect URI from.
  .superRefine((c, ctx) => {
    const oidc = { LABLOG_OIDC_ISSUER: c.oidcIssuer, LABLOG_OIDC_CLIENT_ID: c.oidcClientId, LABLOG_OIDC_CLIENT_SECRET: c.oidcClientSecret };
    const missing = Object.entries(oidc).filter(([, v]) => v === undefined).map(([k]) => k);
    if (missing.length === 0 || missing.length === 3) {
      if (missing.length === 0 && c.publicUrl === undefined) {
        ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'OpenID Connect needs LABLOG_PUBLIC_URL (the redirect URI is <public_url>/api/2.0/lablog/auth/oidc/callback)' });
      }
      return;
    }
    ctx.addIssue({ code: 'custom', path: ['oidc'], message: `OpenID Connect needs LABLOG_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET together; missing: ${missing.join(', ')}` });
  });

export type Config = z.infer<typeof configSchema>;

const FLAGS: Record<string, keyof Config> = {
  '--host': 'host',
  '--port': 'port',
  '--data-dir': 'dataDir',
  '--log-level': 'logLevel',
  '--max-artifact-bytes': 'maxArtifactBytes',
  '--auth': 'auth',
  '--database-url': 'databaseUrl',
  '--artifacts-uri': 'artifactsUri',
};
const ENV: Record<string, keyof Config> = {
  LABLOG_HOST: 'host',
  LABLOG_PORT: 'port',
  LABLOG_DATA_DIR: 'dataDir',
  LABLOG_DATABASE_URL: 'databaseUrl',
  LABLOG_ARTIFACTS_URI: 'artifactsUri',
  LABLOG_LOG_LEVEL: 'logLevel',
  LABLOG_BODY_LIMIT: 'bodyLimit',
  LABLOG_MAX_CONNECTIONS: 'maxConnections',
  LABLOG_HEADERS_TIMEOUT: 'headersTimeout',
  LABLOG_BODY_TIMEOUT: 'bodyTimeout',
  LABLOG_IDLE_TIMEOUT: 'idleTimeout',
  LABLOG_ANSWER_CACHE_MB: 'answerCacheMb',
  LABLOG_MAX_ARTIFACT_BYTES: 'maxArtifactBytes',
  LABLOG_AUTH: 'auth',
  LABLOG_ADMIN_USERNAME: 'adminUsername',
  LABLOG_ADMIN_PASSWORD: 'adminPassword',
  LABLOG_DEFAULT_PERMISSION: 'defaultPermission',
  LABLOG_RATE_LIMIT: 'rateLimit',
  LABLOG_LOGIN_MAX_FAILURES: 'loginMaxFailures',
  LABLOG_CORS_ORIGINS: 'corsOrigins',
  LABLOG_SESSION_TTL_HOURS: 'sessionTtlHours',
  LABLOG_PUBLIC_URL: 'publicUrl',
  LABLOG_OIDC_ISSUER: 'oidcIssuer',
  LABLOG_OIDC_CLIENT_ID: 'oidcClientId',
  LABLOG_OIDC_CLIENT_SECRET: 'oidcClientSecret',
  LABLOG_OIDC_DEFAULT_ROLE: 'oidcDefaultRole',
  LABLOG_OIDC_ADMIN_CLAIM: 'oidcAdminClaim',
  LABLOG_TRUSTED_PROXY_HEADER: 'trustedProxyHeader',
  LABLOG_TRUSTED_PROXIES: 'trustedProxies',
};

export class ConfigError extends Error {}

/** Parses `--flag value` / `--flag=value` pairs; an unknown flag is an error, not silently ignored. */
export function parseFlags(argv: string[]): Partial<Record<keyof Config, string>> {
  const out: Partial<Record<keyof Config, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAGS[flag];
    if (!key) throw new ConfigError(`unknown option '${flag}' (known: ${Object.keys(FLAGS).join(', ')})`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    // `--data-dir --port 1` is a forgotten value, not a directory named "--port".
    if (value === undefined || (eq < 0 && value.startsWith('--'))) {
      throw new ConfigError(`option '${flag}' needs a value`);
    }
    out[key] = value;
  }
  return out;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) if (env[name] !== undefined && env[name] !== '') raw[key] = env[name];
  Object.assign(raw, parseFlags(argv));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
  ensureDataDir(config.dataDir);
  return config;
}

/**
 * Only the data dir (flag, else LABLOG_DATA_DIR, else the default), for commands that need nothing
 * else and must not fail over unrelated settings; unlike loadConfig it does not create the dir.
 */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.LABLOG_DATA_DIR !== '' ? env.LABLOG_DATA_DIR : undefined;
  const parsed = configSchema.shape.dataDir.safeParse(flag ?? fromEnv);
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n  dataDir: ${parsed.error.issues[0].message}`);
  return path.resolve(parsed.data);
}

/** Only the artifacts URI (flag, else LABLOG_ARTIFACTS_URI), for commands that open the artifact store (gc). */
export function resolveArtifactsUri(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? (env.LABLOG_ARTIFACTS_URI || undefined);
  if (value === undefined) return undefined;
  const parsed = artifactsUri.safeParse(value);
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n  artifactsUri: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/**
 * The data dir must exist (it is created if need be) and be readable. One that cannot be written (a
 * read-only mount, a full disk, another owner) is not refused: the server serves reads from it and
 * says so (main.ts).
 */
function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError(`data dir '${dir}' is not writable: ${(err as Error).message}`);
  }
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError(`data dir '${dir}' is not readable: ${(err as Error).message}`);
  }
}

/**
 * Only the PostgreSQL URL (flag, else LABLOG_DATABASE_URL), for the commands that open the store
 * themselves (gc, import-mlflow): undefined means the data dir's SQLite file.
 */
export function resolveDatabaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? (env.LABLOG_DATABASE_URL !== '' ? env.LABLOG_DATABASE_URL : undefined);
  const parsed = configSchema.shape.databaseUrl.safeParse(value);
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n  databaseUrl: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/**
 * backup and restore archive a SQLite data dir. With the tracking data in PostgreSQL that archive would
 * hold none of it, so they refuse rather than write a backup that looks whole.
 */
export function refuseOnPostgres(command: 'backup' | 'restore', env: NodeJS.ProcessEnv = process.env): void {
  if (resolveDatabaseUrl(undefined, env) === undefined) return;
  throw new ConfigError(
    `LABLOG_DATABASE_URL is set: the tracking data is in PostgreSQL, which lablog ${command} does not cover (it ${command === 'backup' ? 'archives' : 'restores'} a SQLite data dir). Back the database up with PostgreSQL's own pg_dump / pg_restore, and an S3 bucket with its own tools`,
  );
}
