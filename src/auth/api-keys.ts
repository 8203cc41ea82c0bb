// Static API keys: the config holds only a hash of each key (sha256, or scrypt for keys a person
// chose), mapped to a tenant and scopes. Comparison is constant-time.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { type ApiKeyConfig, SCRYPT_HASH_BYTES } from '../config/security.ts';
import type { Principal, Scope } from './types.ts';


/** The config line for a key: `sha256:<hex>` (fast; for random keys) or `scrypt:<salt>:<hash>`. */
export function hashApiKey(key: string, kind: 'sha256' | 'scrypt' = 'sha256'): string {
  if (kind === 'sha256') return `sha256:${createHash('sha256').update(key).digest('hex')}`;
  const salt = randomBytes(16);
  return `scrypt:${salt.toString('base64')}:${scryptSync(key, salt, SCRYPT_HASH_BYTES).toString('base64')}`;
}

interface Entry {
  principal: Principal;
  matches(key: string, sha: Buffer): boolean;
}

function entryOf(k: ApiKeyConfig): Entry {
  const principal: Principal = { tenant: k.tenant, scopes: new Set(k.scopes as Scope[]), subject: k.name || 'api-key', method: 'apiKey' };
  const [kind, a, b] = k.hash.split(':') as [string, string, string?];
  if (kind === 'sha256') {
    const want = Buffer.from(a, 'hex');
    return { principal, matches: (_key, sha) => timingSafeEqual(sha, want) };
  }
  const salt = Buffer.from(a, 'base64');
  const want = Buffer.from(b!, 'base64');
  // The config check refuses other lengths; never compare a short hash (an empty one matches all).
  if (want.length !== SCRYPT_HASH_BYTES) return { principal, matches: () => false };
  return { principal, matches: (key) => timingSafeEqual(scryptSync(key, salt, SCRYPT_HASH_BYTES), want) };
}

export interface ApiKeyVerifier {
  /** The key's principal, or undefined when no configured key matches. */
  verify(key: string): Principal | undefined;
}

export function createApiKeyVerifier(keys: readonly ApiKeyConfig[]): ApiKeyVerifier {
  const entries = keys.map(entryOf);
  // scrypt costs ~50 ms by design; remember recent successes (by the key's sha256, not the key).
  const verified = new LRUCache<string, Principal>({ max: 1000, ttl: 60_000 });
  return {
    verify(key) {
      if (key.length === 0 || key.length > 4096) return undefined;
      const sha = createHash('sha256').update(key).digest();
      const cacheKey = sha.toString('hex');
      const hit = verified.get(cacheKey);
      if (hit) return hit;
      for (const e of entries) {
        if (e.matches(key, sha)) {
          verified.set(cacheKey, e.principal);
          return e.principal;
        }
      }
      return undefined;
    },
  };
}
