// Bearer JWTs (jose): HMAC shared secret or a JWKS file; exp/nbf always checked, iss/aud when
// configured; tenant and scopes read from configurable claims.
import type { JWTPayload, JWTVerifyGetKey, jwtVerify } from 'jose';
import type { AuthConfig } from '../config/security.ts';
import { SettingError } from '../config/merge.ts';
import { fileStamp, readSettingFile } from '../config/setting-values.ts';
import { isValidTenant } from '../tenant.ts';
import { SCOPES, type Principal, type Scope, unauthenticated } from './types.ts';

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

function claim(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The JSON Web Key Set in `file`; a SettingError naming auth.jwt.jwksFile when it cannot be read or is not one. */
function readJwks(file: string): unknown {
  const key = 'auth.jwt.jwksFile';
  let json: unknown;
  try {
    json = JSON.parse(readSettingFile(key, file).toString('utf8'));
  } catch (err) {
    if (err instanceof SettingError) throw err;
    throw new SettingError(key, `${file} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray((json as { keys?: unknown } | null)?.keys)) throw new SettingError(key, `${file} is not a JSON Web Key Set (expected {"keys": [...]})`);
  return json;
}

export function createJwtVerifier(cfg: AuthConfig['jwt']): JwtVerifier {
  const options = {
    ...(cfg.issuer && { issuer: cfg.issuer }),
    ...(cfg.audience && { audience: cfg.audience }),
    clockTolerance: cfg.clockToleranceSeconds,
    requiredClaims: ['exp'],
  };
  // The JWKS file is read now, so a missing or unparsable one fails start-up.
  const jwksFile = cfg.jwksFile;
  const jwksJson = jwksFile ? readJwks(jwksFile) : undefined;
  // jose (~50 ms to import) loads in the background from here: only configs with JWT auth pay it.
  const verifying: Promise<(token: string) => ReturnType<typeof jwtVerify>> = import('jose').then(({ createLocalJWKSet, jwtVerify }) => {
    if (jwksJson !== undefined) {
      const keySet = (json: unknown): JWTVerifyGetKey => createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]);
      let jwks = keySet(jwksJson);
      // Signing keys rotate (a new one published, an old or leaked one removed) and whatever syncs
      // the file rewrites it: it is read again when it changed, looked at most once a second and
      // whenever a token names a key the set does not hold. A file that does not parse (caught
      // halfway through a rewrite) leaves the previous set in force until it changes again.
      let stamp = fileStamp(jwksFile);
      let lookedAt = Date.now();
      const reread = (): boolean => {
        lookedAt = Date.now();
        const now = fileStamp(jwksFile);
        if (now === stamp) return false;
        stamp = now;
        try {
          jwks = keySet(readJwks(jwksFile));
          return true;
        } catch {
          return false;
        }
      };
      const verify = (token: string) => jwtVerify(token, jwks, { ...options, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] });
      return async (token) => {
        if (Date.now() - lookedAt >= 1000) reread();
        try {
          return await verify(token);
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !reread()) throw err;
          return verify(token);
        }
      };
    }
    const secret = new TextEncoder().encode(cfg.secret);
    return (token) => jwtVerify(token, secret, { ...options, algorithms: ['HS256', 'HS384', 'HS512'] });
  });
  verifying.catch(() => undefined); // a bad JWKS rejects each verify with its message
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        payload = (await (await verifying)(token)).payload;
      } catch (err) {
        throw unauthenticated(`jwt: ${err instanceof Error ? err.message : String(err)}`);
      }
      const tenant = claim(payload, cfg.tenantClaim);
      if (typeof tenant !== 'string' || !isValidTenant(tenant)) throw unauthenticated(`jwt: claim ${cfg.tenantClaim} is not a valid tenant`);
      const raw = claim(payload, cfg.scopesClaim);
      const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw : [];
      const scopes = new Set(list.filter((s): s is Scope => (SCOPES as readonly unknown[]).includes(s)));
      const principal: Principal = { tenant, scopes, subject: typeof payload.sub === 'string' ? payload.sub : 'jwt', method: 'jwt' };
      // exp is required, so jose has checked it is a number.
      if (typeof payload.exp === 'number') principal.validUntilMs = (payload.exp + cfg.clockToleranceSeconds) * 1000;
      return principal;
    },
  };
}
