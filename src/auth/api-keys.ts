// Static API keys: the config holds only a hash of each key (sha256, or scrypt for keys a person
// chose), mapped to a tenant and scopes. Comparison is constant-time.
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { promisify } from 'node:util';
import { LRUCache } from 'lru-cache';
import { type ApiKeyConfig, SCRYPT_HASH_BYTES } from '../config/security.ts';
import type { Principal, Scope } from './types.ts';

/** The config line for a key: `sha256:<hex>` (fast; for random keys) or `scrypt:<salt>:<hash>`. */
export function hashApiKey(key: string, kind: 'sha256' | 'scrypt' = 'sha256'): string {
  if (kind === 'sha256') return `sha256:${createHash('sha256').update(key).digest('hex')}`;
  const salt = randomBytes(16);
  return `scrypt:${salt.toString('base64')}:${scryptSync(key, salt, SCRYPT_HASH_BYTES).toString('base64')}`;
}

/** A configured key: its sha256, or its scrypt salt and hash (null when the hash could match nothing). */
interface Entry {
  principal: Principal;
  sha256?: Buffer;
  scrypt?: { salt: Buffer; want: Buffer } | null;
  /** The config line as a whole: an entry whose line is gone from a reloaded list is revoked. */
  identity: string;
  revoke: AbortController;
}

const identityOf = (k: ApiKeyConfig) => JSON.stringify([k.name, k.hash, k.tenant, [...k.scopes].sort()]);

const scryptAsync = promisify(scrypt) as (key: string, salt: Buffer, length: number) => Promise<Buffer>;

function entryOf(k: ApiKeyConfig): Entry {
  const revoke = new AbortController();
  // Every graphql-ws connection the key opened listens for its revocation.
  setMaxListeners(0, revoke.signal);
  const principal: Principal = { tenant: k.tenant, scopes: new Set(k.scopes as Scope[]), subject: k.name || 'api-key', method: 'apiKey', revoked: revoke.signal };
  const base = { principal, identity: identityOf(k), revoke };
  const [kind, a, b] = k.hash.split(':') as [string, string, string?];
  if (kind === 'sha256') return { ...base, sha256: Buffer.from(a, 'hex') };
  const want = Buffer.from(b!, 'base64');
  // The config check refuses other lengths; never compare a short hash (an empty one matches all).
  return { ...base, scrypt: want.length === SCRYPT_HASH_BYTES ? { salt: Buffer.from(a, 'base64'), want } : null };
}

export interface ApiKeyVerifier {
  /** The key's principal, or undefined when no configured key matches. */
  verify(key: string): Promise<Principal | undefined>;
  /**
   * The verifier of a reloaded list: keys whose config line is unchanged keep their principal (and
   * their connections); the others' principals are revoked.
   */
  replace(keys: readonly ApiKeyConfig[]): ApiKeyVerifier;
}

/**
 * Keys not yet verified that may wait for the scrypt checks, beyond the one running. A wrong key
 * costs a whole scrypt (~50 ms) per scrypt entry, so anyone could otherwise keep the gateway
 * hashing: checks run one at a time off the main thread (one libuv thread; the others stay
 * DuckDB's), and past this many waiting a new key is refused at once. Keys verified in the last
 * minute never wait.
 */
export const SCRYPT_QUEUE_LIMIT = 16;

export function createApiKeyVerifier(keys: readonly ApiKeyConfig[], kept: ReadonlyMap<string, Entry> = new Map()): ApiKeyVerifier {
  const entries = keys.map((k) => kept.get(identityOf(k)) ?? entryOf(k));
  const bySha = entries.filter((e) => e.sha256);
  const byScrypt = entries.filter((e) => e.scrypt);
  // Remember recent successes (by the key's sha256, not the key).
  const verified = new LRUCache<string, Principal>({ max: 1000, ttl: 60_000 });
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  async function scryptMatch(key: string): Promise<Principal | undefined> {
    for (const e of byScrypt) {
      if (timingSafeEqual(await scryptAsync(key, e.scrypt!.salt, SCRYPT_HASH_BYTES), e.scrypt!.want)) return e.principal;
    }
    return undefined;
  }
  return {
    async verify(key) {
      if (key.length === 0 || key.length > 4096) return undefined;
      const sha = createHash('sha256').update(key).digest();
      const cacheKey = sha.toString('hex');
      const hit = verified.get(cacheKey);
      if (hit) return hit;
      let found = bySha.find((e) => timingSafeEqual(sha, e.sha256!))?.principal;
      if (!found && byScrypt.length > 0) {
        if (waiting >= SCRYPT_QUEUE_LIMIT) return undefined;
        waiting++;
        const turn = queue.then(() => scryptMatch(key));
        queue = turn.catch(() => undefined);
        try {
          found = await turn;
        } finally {
          waiting--;
        }
      }
      if (found) verified.set(cacheKey, found);
      return found;
    },
    replace(next) {
      const stay = new Set(next.map(identityOf));
      for (const e of entries) if (!stay.has(e.identity)) e.revoke.abort();
      return createApiKeyVerifier(next, new Map(entries.filter((e) => stay.has(e.identity)).map((e) => [e.identity, e])));
    },
  };
}
