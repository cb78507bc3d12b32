import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { LablogError, unauthenticated } from '../errors.js';
import type { Role, UserRecord } from '../store/auth-types.js';
import type { TrackingStore } from '../store/types.js';
import type { CredentialService } from './credentials.service.js';

// OpenID Connect single sign-on, the relying party's half: authorization code flow with PKCE (S256),
// state and nonce, by openid-client. The pending login (verifier, state, nonce, where to go after) is
// kept in the browser, encrypted and authenticated with a key only this server knows; the HTTP layer
// carries it as a short-lived cookie. Nothing here knows about Fastify.

/** How long a login may take at the identity provider. */
export const LOGIN_TTL_SECONDS = 600;
const SCOPES = 'openid profile email';

export interface OidcOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** `<public_url>/api/2.0/lablog/auth/oidc/callback`, as registered at the identity provider. */
  redirectUri: string;
  defaultRole: Role;
  /** `claim=value`: users whose claim is, or holds, the value are admins. */
  adminClaim?: string;
  /** Seconds to wait for the identity provider on each request (discovery, token, userinfo). */
  timeoutSeconds?: number;
  now: () => number;
}

interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  expiresAt: number;
}

/**
 * Where to send the browser after a login: only a path on this server. `//evil.example`, `/\evil`,
 * `https://evil.example` or anything that would leave the origin falls back to `/`.
 */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  try {
    const base = 'http://lablog.invalid';
    const url = new URL(next, base);
    return url.origin === base ? `${url.pathname}${url.search}${url.hash}` : '/';
  } catch {
    return '/';
  }
}

/** Whether the claims hold `value` under `name` (a string equal to it, or a list containing it). */
export function claimHolds(claims: Record<string, unknown>, name: string, value: string): boolean {
  const v = claims[name];
  return v === value || (Array.isArray(v) && v.includes(value));
}

export function createOidcService(store: TrackingStore, credentials: CredentialService, opts: OidcOptions) {
  const issuerUrl = new URL(opts.issuer);
  const timeout = opts.timeoutSeconds ?? 10;
  // The pending-login cookie's key, derived from the client secret: stable across restarts (a login
  // begun before a restart still finishes) and unknown to anyone who does not hold the secret.
  const key = Buffer.from(hkdfSync('sha256', opts.clientSecret, 'lablog', 'oidc pending login v1', 32));
  const [adminName, adminValue] = opts.adminClaim ? [opts.adminClaim.slice(0, opts.adminClaim.indexOf('=')), opts.adminClaim.slice(opts.adminClaim.indexOf('=') + 1)] : [];

  // Discovery happens on first use and is retried after a failure, so an identity provider that is
  // down at start neither crashes the server nor stays "down" once it is back.
  let discovered: Promise<oidc.Configuration> | null = null;
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= oidc
      .discovery(issuerUrl, opts.clientId, undefined, oidc.ClientSecretBasic(opts.clientSecret), {
        // A plain-http issuer only works when configured so on purpose (a local or test provider).
        execute: issuerUrl.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout,
      })
      .catch((err: unknown) => {
        discovered = null;
        throw new LablogError('TEMPORARILY_UNAVAILABLE', `Single sign-on is unavailable: the OpenID Connect issuer ${opts.issuer} could not be reached or answered badly (${describe(err)}). Try again later.`);
      });
    return discovered;
  }

  function seal(p: PendingLogin): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(p), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  function unseal(sealed: string | undefined): PendingLogin {
    const refused = unauthenticated('Single sign-on failed: this login was not started here, or took too long. Start again.');
    if (!sealed) throw refused;
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const p = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as PendingLogin;
      if (typeof p.expiresAt !== 'number' || p.expiresAt < opts.now()) throw refused;
      return p;
    } catch {
      throw refused;
    }
  }

  /** The role the claims call for, given the user's present one (see docs/auth.md: synced on each login). */
  function roleFor(claims: Record<string, unknown>, current: Role | null): Role {
    if (adminName === undefined) return current ?? opts.defaultRole;
    if (claimHolds(claims, adminName, adminValue!)) return 'admin';
    // The claim decides who is an admin: one who lost it goes back to the default role. Roles an admin
    // gave by hand below admin (editor, viewer) are kept.
    return current === null || current === 'admin' ? opts.defaultRole : current;
  }

  return {
    /** Starts a login: the identity provider's URL to send the browser to, and the sealed pending login. */
    async begin(next: string | undefined): Promise<{ url: string; pending: string; maxAgeSeconds: number }> {
      const config = await configuration();
      const pending: PendingLogin = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier: oidc.randomPKCECodeVerifier(),
        next: safeNext(next),
        expiresAt: opts.now() + LOGIN_TTL_SECONDS * 1000,
      };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: opts.redirectUri,
        scope: SCOPES,
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      return { url: url.href, pending: seal(pending), maxAgeSeconds: LOGIN_TTL_SECONDS };
    },

    /**
     * Finishes a login at the callback: checks the state against the pending login, exchanges the code
     * (openid-client validates the ID token: signature, issuer, audience, expiry, nonce), finds or
     * creates the user and syncs their role. Every refusal is a 401; only an unreachable issuer is a 503.
     */
    async finish(query: Record<string, string>, sealed: string | undefined): Promise<{ user: UserRecord; next: string }> {
      const pending = unseal(sealed);
      if (query.error) {
        const why = query.error_description ? `${query.error}: ${query.error_description}` : query.error;
        throw unauthenticated(`Single sign-on failed: the identity provider answered ${why.slice(0, 300)}`);
      }
      if (!query.state || query.state !== pending.state) throw unauthenticated('Single sign-on failed: the state does not match this login. Start again.');
      const config = await configuration();
      // The URL the identity provider redirected to, rebuilt from the registered redirect URI (not from
      // the Host header, which a proxy may have changed).
      const current = new URL(opts.redirectUri);
      for (const [k, v] of Object.entries(query)) current.searchParams.set(k, v);
      let claims: Record<string, unknown>;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
        const idClaims = tokens.claims()!;
        claims = { ...idClaims };
        // Many providers put profile claims (and groups) only in the userinfo answer.
        if (config.serverMetadata().userinfo_endpoint) {
          const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
          // The signed ID token's claims win; userinfo fills in what it lacks.
          claims = { ...info, ...idClaims };
        }
      } catch (err) {
        throw unauthenticated(`Single sign-on failed: the identity provider's answer was refused (${describe(err)}).`);
      }
      const name = [claims.preferred_username, claims.email, claims.sub].find((v): v is string => typeof v === 'string' && v !== '');
      if (!name) throw unauthenticated('Single sign-on failed: the ID token names no user (no preferred_username, email or sub).');
      let user: UserRecord;
      try {
        user = await credentials.externalUser(name, 'oidc', roleFor(claims, null));
      } catch (err) {
        throw unauthenticated(`Single sign-on failed: ${(err as Error).message}`);
      }
      // A local (or proxy) account of the same name is not taken over by whoever the provider calls so.
      if (user.authSource !== 'oidc') {
        throw unauthenticated(`Single sign-on failed: the user '${name}' exists here with a ${user.authSource} login; an admin must delete it before '${name}' can sign in with single sign-on.`);
      }
      const role = roleFor(claims, user.role);
      if (role !== user.role) {
        user = await store.updateUser(user.username, { role }, opts.now());
      }
      return { user, next: pending.next };
    },
  };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`.slice(0, 300);
}

export type OidcService = ReturnType<typeof createOidcService>;
