// Bearer JWTs (jose): HMAC shared secret or a JWKS file; exp/nbf always checked, iss/aud when
// configured; tenant and scopes read from configurable claims.
import { createHash, KeyObject } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type * as JoseModule from 'jose';
import type { JSONWebKeySet, JWSHeaderParameters, JWTPayload, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config/security.ts';
import { SettingError } from '../config/merge.ts';
import { fileStamp, readSettingFile } from '../config/setting-values.ts';
import type { MetricSample } from '../server/metrics.ts';
import { isValidTenant } from '../tenant.ts';
import { SCOPES, type Principal, type Scope, unauthenticated } from './types.ts';

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
  /** Reads the JWKS file again now (SIGHUP) when it changed or its last reading was refused; nothing without a file. */
  reloadKeys(): void;
  /** The JWKS file's readings after a change, for /metrics (none without a file). */
  metrics(): MetricSample[];
  /** Stops looking at the JWKS file (the gateway stops). */
  close(): void;
}

type Jose = typeof JoseModule;
type KeySet = ReturnType<Jose['createLocalJWKSet']>;

function claim(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * The JSON Web Key Set in `file`; a SettingError naming auth.jwt.jwksFile when it cannot be read or is
 * not one. Start-up, a SIGHUP's check of the config and every later reading go through here. The
 * message never quotes the file (newer V8s put an excerpt of the text in JSON.parse's errors).
 */
export function readJwks(file: string): JSONWebKeySet {
  const key = 'auth.jwt.jwksFile';
  let json: unknown;
  try {
    json = JSON.parse(readSettingFile(key, file).toString('utf8'));
  } catch (err) {
    if (err instanceof SettingError) throw err;
    throw new SettingError(key, `${file} is not JSON: ${(err as Error).message.replace(/, ".*" is not valid JSON$/s, '')}`);
  }
  if (!Array.isArray((json as { keys?: unknown } | null)?.keys)) throw new SettingError(key, `${file} is not a JSON Web Key Set (expected {"keys": [...]})`);
  return json as JSONWebKeySet;
}

/** A signing key that verified tokens: the header that chose it, and the signal their principals are revoked by. */
interface KeyInUse {
  header: JWSHeaderParameters;
  key: KeyObject;
  revoke: AbortController;
}

/**
 * The keys of `keySet` that fit `header`: one, or several when keys of one type have no kid (RFC 7517
 * makes it optional), as the old and the new key while a rotation publishes both. None: jose's
 * ERR_JWKS_NO_MATCHING_KEY.
 */
async function keysFor(keySet: KeySet, header: JWSHeaderParameters): Promise<CryptoKey[]> {
  try {
    return [await keySet(header)];
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw err;
    // jose hands the candidates over one by one.
    const keys: CryptoKey[] = [];
    for await (const key of err as AsyncIterable<CryptoKey>) keys.push(key);
    return keys;
  }
}

/** A key told apart from others in a short string: a hash of its public form (a local JWKS holds public keys only). */
const keyFingerprint = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');

/** Whether `keySet` still gives `use.key` for the header that chose it. */
async function stillHolds(keySet: KeySet, use: KeyInUse): Promise<boolean> {
  try {
    return (await keysFor(keySet, use.header)).some((k) => KeyObject.from(k).equals(use.key));
  } catch {
    return false; // no key fits the header any more
  }
}

/** Verifies `token` with the keys of `keySet` that fit its header, one after another until a signature holds. */
async function verifyWithEach(jose: Jose, keySet: KeySet, token: string, options: Parameters<typeof jwtVerify>[2]) {
  for (let i = 0; ; i++) {
    let fitting = 0;
    // A key function, so that jose checks the header (alg allowed, crit) before a key is looked up.
    const ith = async (header: JWSHeaderParameters) => {
      const keys = await keysFor(keySet, header);
      fitting = keys.length;
      return keys[i]!;
    };
    try {
      return await jose.jwtVerify(token, ith, options);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || i + 1 >= fitting) throw err;
    }
  }
}

/**
 * The keys of a JWKS file, which rotate (a new one published, an old or leaked one removed) as
 * whatever syncs the file rewrites it: it is read again when it changed, looked at once a second
 * (at a JWT request, and by a timer once a key has verified a token), whenever a token names a key
 * the set does not hold, and on SIGHUP. A reading that fails (a file caught halfway through a
 * rewrite, or deleted) is logged and counted, and leaves the previous set in force until the file
 * changes again. Principals verified with a key that a later
 * reading no longer holds are revoked, as a removed API key's are: their tails are closed. `jose` is
 * given, so that tests can hold its look-ups and order readings and tokens as they choose.
 */
export function rotatingKeySet(file: string, first: JSONWebKeySet, jose: Jose, logger: Logger) {
  let keySet = jose.createLocalJWKSet(first);
  let stamp = fileStamp(file);
  let lookedAt = Date.now();
  let refused = false;
  // Bumped by each reading taken: a token verified across one is verified again (its key may be gone).
  let generation = 0;
  const readings = { ok: 0, failed: 0 };
  // By header (alg, kid) and key, as several keys can fit one header (no kid) and a key can be
  // replaced under its kid: each key's principals are its own. Bounded by the keys the file holds
  // that verified a token.
  const inUse = new Map<string, KeyInUse>();
  // While a key is in use, the file is looked at once a second by a timer too: a tail of a removed
  // key must be closed without waiting for the next JWT request, which may never come.
  let poll: NodeJS.Timeout | undefined;
  let closed = false;
  function lookWhileInUse(): void {
    if (poll || closed) return;
    poll = setInterval(() => {
      if (inUse.size === 0) {
        clearInterval(poll);
        poll = undefined;
      } else if (Date.now() - lookedAt >= 1000) reread();
    }, 1000).unref();
  }

  async function revokeRemoved(set: KeySet): Promise<void> {
    for (const [id, use] of inUse) {
      if (await stillHolds(set, use)) continue;
      // A new entry there (the key put back by a later reading, and a token of it verified
      // meanwhile) is the later reading's to judge.
      if (inUse.get(id) === use) inUse.delete(id);
      use.revoke.abort();
    }
  }

  /** Reads the file when it changed (`again`: or when its last reading was refused); whether a new set is in force. */
  function reread(again = false): boolean {
    lookedAt = Date.now();
    const now = fileStamp(file);
    if (now === stamp && !(again && refused)) return false;
    stamp = now;
    let next: KeySet;
    try {
      next = jose.createLocalJWKSet(readJwks(file));
    } catch (err) {
      readings.failed++;
      refused = true;
      // The message names the file and what is wrong, never its content.
      logger.warn({ file, err: (err as Error).message }, 'JWKS file changed but cannot be used; the previous keys stay in force');
      return false;
    }
    readings.ok++;
    refused = false;
    generation++;
    keySet = next;
    logger.info({ file }, 'JWKS file read again');
    void revokeRemoved(next);
    return true;
  }

  return {
    reread,
    close() {
      closed = true;
      clearInterval(poll);
      poll = undefined;
    },
    /** Verifies `token` against the set in force, first looking at the file if a second has passed. */
    async verify(token: string, options: Parameters<typeof jwtVerify>[2]) {
      if (Date.now() - lookedAt >= 1000) reread();
      // The reading whose set the last attempt used.
      let at = generation;
      const attempt = () => ((at = generation), verifyWithEach(jose, keySet, token, options));
      let result: Awaited<ReturnType<typeof attempt>>;
      try {
        result = await attempt();
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !reread()) throw err;
        result = await attempt();
      }
      // A reading landed while it verified: its key may be one that reading removed. From this
      // check on nothing awaits, so the key's entry is in inUse before a later reading looks there.
      while (at !== generation) result = await attempt();
      const header = { alg: result.protectedHeader.alg, ...(result.protectedHeader.kid !== undefined && { kid: result.protectedHeader.kid }) };
      const key = KeyObject.from(result.key as CryptoKey);
      const id = JSON.stringify([header.alg, header.kid, keyFingerprint(key)]);
      let use = inUse.get(id);
      if (!use) {
        use = { header, key, revoke: new AbortController() };
        // Every tail opened with a token of this key listens for its removal.
        setMaxListeners(0, use.revoke.signal);
        inUse.set(id, use);
        lookWhileInUse();
      }
      return { payload: result.payload, revoked: use.revoke.signal };
    },
    metrics: (): MetricSample[] =>
      (['ok', 'failed'] as const).map((result) => ({
        name: 'teleql_auth_jwks_reloads_total',
        help: 'JWKS file (auth.jwt.jwksFile) readings after it changed (looked at once a second and on SIGHUP), or again after a refused one on SIGHUP: its keys in force (ok), or not a key set and the previous keys kept (failed)',
        type: 'counter' as const,
        value: readings[result],
        labels: { result },
      })),
  };
}

export function createJwtVerifier(cfg: AuthConfig['jwt'], logger: Logger): JwtVerifier {
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
  const jose = import('jose');
  const keySet = jwksFile && jwksJson ? jose.then((j) => rotatingKeySet(jwksFile, jwksJson, j, logger)) : undefined;
  const verifying: Promise<(token: string) => Promise<{ payload: JWTPayload; revoked?: AbortSignal }>> = keySet
    ? keySet.then((set) => (token) => set.verify(token, { ...options, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] }))
    : jose.then(({ jwtVerify }) => {
        const secret = new TextEncoder().encode(cfg.secret);
        return (token) => jwtVerify(token, secret, { ...options, algorithms: ['HS256', 'HS384', 'HS512'] });
      });
  verifying.catch(() => undefined); // a bad JWKS rejects each verify with its message
  // Once jose has loaded (before that, the set read at start-up is the one in force anyway).
  let loaded: Awaited<NonNullable<typeof keySet>> | undefined;
  void keySet?.then((set) => (loaded = set), () => undefined);
  return {
    reloadKeys: () => void loaded?.reread(true),
    metrics: () => loaded?.metrics() ?? [],
    close: () => void keySet?.then((set) => set.close(), () => undefined),
    async verify(token) {
      let payload: JWTPayload;
      let revoked: AbortSignal | undefined;
      try {
        ({ payload, revoked } = await (await verifying)(token));
      } catch (err) {
        throw unauthenticated(`jwt: ${err instanceof Error ? err.message : String(err)}`);
      }
      const tenant = claim(payload, cfg.tenantClaim);
      if (typeof tenant !== 'string' || !isValidTenant(tenant)) throw unauthenticated(`jwt: claim ${cfg.tenantClaim} is not a valid tenant`);
      const raw = claim(payload, cfg.scopesClaim);
      const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw : [];
      const scopes = new Set(list.filter((s): s is Scope => (SCOPES as readonly unknown[]).includes(s)));
      const principal: Principal = { tenant, scopes, subject: typeof payload.sub === 'string' ? payload.sub : 'jwt', method: 'jwt', ...(revoked && { revoked }) };
      // exp is required, so jose has checked it is a number.
      if (typeof payload.exp === 'number') principal.validUntilMs = (payload.exp + cfg.clockToleranceSeconds) * 1000;
      return principal;
    },
  };
}
