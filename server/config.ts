import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

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
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest artifact accepted (single upload or assembled multipart upload); larger ones get 413. */
  maxArtifactBytes: z.coerce.number().int().min(1).default(10 * 1024 ** 3),
  /** Cap for request bodies other than artifact uploads (log-batch has its own 1,000,000-byte cap). */
  bodyLimit: z.coerce.number().int().min(1024).default(8 * 1024 * 1024),
  /** Origins allowed by CORS (comma-separated in LABLOG_CORS_ORIGINS; `*` for any); none: CORS off. */
  corsOrigins: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string()))
    .default([]),
});

export type Config = z.infer<typeof configSchema>;

const FLAGS: Record<string, keyof Config> = {
  '--host': 'host',
  '--port': 'port',
  '--data-dir': 'dataDir',
  '--log-level': 'logLevel',
  '--max-artifact-bytes': 'maxArtifactBytes',
};
const ENV: Record<string, keyof Config> = {
  LABLOG_HOST: 'host',
  LABLOG_PORT: 'port',
  LABLOG_DATA_DIR: 'dataDir',
  LABLOG_LOG_LEVEL: 'logLevel',
  LABLOG_BODY_LIMIT: 'bodyLimit',
  LABLOG_MAX_ARTIFACT_BYTES: 'maxArtifactBytes',
  LABLOG_CORS_ORIGINS: 'corsOrigins',
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
  ensureWritableDir(config.dataDir);
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

function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new ConfigError(`data dir '${dir}' is not writable: ${(err as Error).message}`);
  }
}
