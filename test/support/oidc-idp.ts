// A real OpenID Connect provider for the SSO tests, run as its own process:
//   node dist/test/support/oidc-idp.js
// with env OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI and OIDC_ACCOUNTS_FILE (JSON:
// { "<login>": { claims } }, re-read at each login so a test can change someone's groups). It listens
// on a free loopback port and prints one JSON line { issuer } on stdout once it serves.
// oidc-provider's development interactions (a login form taking any password, then a consent form)
// stand in for the provider's real pages; plain http on loopback is fine for them and for the issuer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // Scope -> claims. With the code flow the ID token holds only the standard ones (oidc-provider's
  // conformIdTokenClaims), so profile, email and groups reach lablog through userinfo, as with many
  // real providers.
  claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email', 'email_verified'] },
  async findAccount(_ctx, id) {
    const accounts = JSON.parse(readFileSync(env('OIDC_ACCOUNTS_FILE'), 'utf8')) as Record<string, Record<string, unknown>>;
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  pkce: { required: () => true },
  cookies: { keys: ['oidc-idp-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
// oidc-provider logs its errors through Koa; the tests read the outcome over HTTP.
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err.stack}\n`));
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
