import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createAccess } from '../auth/access.js';
import { createAccountService } from '../auth/accounts.service.js';
import { createCredentialService } from '../auth/credentials.service.js';
import { ROLES, type Caller } from '../auth/permissions.js';
import { ConfigError, resolveDatabaseUrl, resolveDataDir } from '../config.js';
import { LablogError } from '../errors.js';
import type { Role } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';
import { missingData, openCommandStore } from './open-store.js';

export const ACCOUNTS_USAGE = `  users create NAME [--role admin|editor|viewer] [--password P] [--data-dir D | --database-url URL]
  users list | users update NAME [--role R] [--password P] | users delete NAME
         manage users on the data dir's database directly (first setup, recovery), or on the
         PostgreSQL one of --database-url / LABLOG_DATABASE_URL; a password left out is generated
         and printed once
  tokens create --user NAME [--name N] [--expires-in-days D] | tokens list [--user NAME] | tokens revoke ID
         tokens for scripts (Authorization: Bearer, MLFLOW_TRACKING_TOKEN); the value is printed once
`;

// The command line acts with the database owner's authority: whoever may read the SQLite file or
// holds the PostgreSQL URL.
const CLI: Caller = Object.freeze({ userId: null, username: 'lablog-cli', role: 'admin', via: 'off' });

const OPTIONS = {
  role: { type: 'string' },
  password: { type: 'string' },
  user: { type: 'string' },
  name: { type: 'string' },
  'expires-in-days': { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
} as const;

function roleOf(value: string | undefined, fallback: Role): Role {
  if (value === undefined) return fallback;
  if (!(ROLES as readonly string[]).includes(value)) throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

const isoOrNever = (t: number | null | undefined) => (t ? new Date(t).toISOString() : '-');

/** `lablog users ...` and `lablog tokens ...`; returns the exit code. */
export async function accountsCommand(kind: 'users' | 'tokens', argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`lablog ${kind}: ${(err as Error).message}\n\nusage:\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  const [action, target] = parsed.positionals;
  const v = parsed.values;
  // The same database the server uses: PostgreSQL when its URL is given, else the data dir's SQLite file.
  let dataDir: string;
  let databaseUrl: string | undefined;
  try {
    dataDir = resolveDataDir(v['data-dir']);
    databaseUrl = resolveDatabaseUrl(v['database-url']);
  } catch (err) {
    process.stderr.write(`lablog: ${(err as Error).message}\n`);
    return 2;
  }
  const missing = kind === 'users' && action === 'create' ? null : missingData(dataDir, databaseUrl);
  if (missing) {
    process.stderr.write(`lablog ${kind}: ${missing}\n`);
    return 2;
  }
  let store: TrackingStore;
  try {
    store = await openCommandStore(dataDir, databaseUrl);
  } catch (err) {
    process.stderr.write(`lablog ${kind}: cannot open the database: ${(err as Error).message}\n`);
    return 1;
  }
  const access = createAccess(store, { defaultPermission: 'READ' });
  const credentials = createCredentialService(store, { sessionTtlMs: 0, loginMaxFailures: 1, now: Date.now });
  const accounts = createAccountService(store, access, credentials, { defaultPermission: 'READ', enabled: true, now: Date.now });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const needTarget = (what: string) => {
    if (!target) throw new ConfigError(`${kind} ${action} needs ${what}`);
    return target;
  };
  try {
    switch (`${kind} ${action}`) {
      case 'users create': {
        const password = v.password ?? randomBytes(12).toString('base64url');
        const user = await accounts.createUser(CLI, { username: needTarget('a username'), password, role: roleOf(v.role, 'viewer') });
        out(`created ${user.role} '${user.username}'`);
        if (v.password === undefined) out(`password: ${password}   (shown once)`);
        break;
      }
      case 'users list':
        for (const u of await accounts.listUsers(CLI)) out(`${u.username}\t${u.role}\t${u.authSource}\t${isoOrNever(u.createdAt)}`);
        break;
      case 'users update': {
        if (v.role === undefined && v.password === undefined) throw new ConfigError('users update needs --role or --password');
        const user = await accounts.updateUser(CLI, { username: needTarget('a username'), role: v.role === undefined ? undefined : roleOf(v.role, 'viewer'), password: v.password });
        out(`updated '${user.username}' (${user.role})`);
        break;
      }
      case 'users delete':
        await accounts.deleteUser(CLI, needTarget('a username'));
        out(`deleted '${target}'`);
        break;
      case 'tokens create': {
        if (!v.user) throw new ConfigError('tokens create needs --user NAME');
        const days = v['expires-in-days'] === undefined ? undefined : Number(v['expires-in-days']);
        const { token, value } = await accounts.createToken(CLI, { name: v.name ?? 'cli', expiresInDays: days, username: v.user });
        out(`token ${token.id} '${token.name}' for '${token.username}'${token.expiresAt ? `, expires ${isoOrNever(token.expiresAt)}` : ''}:`);
        out(value);
        break;
      }
      case 'tokens list':
        for (const t of v.user ? await accounts.listTokens(CLI, v.user) : await store.listTokens(null)) {
          out(`${t.id}\t${t.username}\t${t.name}\tcreated ${isoOrNever(t.createdAt)}\texpires ${isoOrNever(t.expiresAt)}\tlast used ${isoOrNever(t.lastUsedAt)}`);
        }
        break;
      case 'tokens revoke': {
        const id = Number(needTarget('a token id'));
        if (!Number.isInteger(id)) throw new ConfigError(`'${target}' is not a token id`);
        await accounts.revokeToken(CLI, id);
        out(`revoked token ${id}`);
        break;
      }
      default:
        throw new ConfigError(`unknown command '${kind} ${action ?? ''}'`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lablog ${kind}: ${err.message}\n\nusage:\n${ACCOUNTS_USAGE}`);
      return 2;
    }
    if (err instanceof LablogError) {
      process.stderr.write(`lablog ${kind}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}
