// The persisted-query cache's bounds, on the plugin itself (the HTTP sequences are in
// test/integration/limits.test.ts): bytes per tenant, and all tenants' bytes, dropping the least
// recently active tenant's cache whole.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { GraphQLParams } from 'graphql-yoga';
import { PERSISTED_QUERY_TENANT_BYTES, PERSISTED_QUERY_TOTAL_BYTES, persistedQueriesPlugin } from '../../../src/server/query-limits.ts';

const MiB = 1024 * 1024;

function cache(entries: number) {
  const plugin = persistedQueriesPlugin(entries, 16 * MiB, (ctx) => (ctx as { tenant: string }).tenant);
  const send = (tenant: string, params: GraphQLParams): GraphQLParams => {
    let out = params;
    const onParams = plugin.onParams as (p: { params: GraphQLParams; setParams: (p: GraphQLParams) => void; context: object }) => void;
    onParams({ params, setParams: (p) => (out = p), context: { tenant } });
    return out;
  };
  const ext = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } });
  return {
    register: (tenant: string, query: string) => void send(tenant, { query, extensions: ext(query) }),
    /** Whether the tenant's cache still answers the hash of `query`. */
    holds: (tenant: string, query: string) => {
      try {
        return send(tenant, { extensions: ext(query) }).query === query;
      } catch (err) {
        assert.equal((err as { extensions?: { code?: string } }).extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
        return false;
      }
    },
  };
}

/** A valid document of about `bytes` bytes, distinct per `tag`. */
const big = (tag: string, bytes: number) => `{ __typename } # ${tag} ${'x'.repeat(bytes)}`;

test('a tenant holds persistedQueries entries and at most PERSISTED_QUERY_TENANT_BYTES of text, least recently used dropped first', () => {
  const c = cache(3);
  for (const q of ['{ a: __typename }', '{ b: __typename }', '{ c: __typename }', '{ d: __typename }']) c.register('t', q);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => c.holds('t', `{ ${k}: __typename }`)), [false, true, true, true]);
  const half = PERSISTED_QUERY_TENANT_BYTES / 2 + 1;
  c.register('u', big('1', half));
  c.register('u', big('2', half));
  assert.deepEqual([c.holds('u', big('1', half)), c.holds('u', big('2', half))], [false, true]);
});

test('past PERSISTED_QUERY_TOTAL_BYTES in all, the least recently active tenant’s cache is dropped, not the others’', () => {
  const c = cache(1000);
  const each = PERSISTED_QUERY_TENANT_BYTES - 1024;
  const tenants = Math.floor(PERSISTED_QUERY_TOTAL_BYTES / each); // they fit exactly
  for (let i = 0; i < tenants; i++) c.register(`t${i}`, big(`t${i}`, each));
  assert.ok(c.holds('t0', big('t0', each)), 'all fit; t0 is now the most recently active');
  c.register('late', big('late', each));
  assert.equal(c.holds('t1', big('t1', each)), false, 't1, the least recently active, was dropped');
  for (const t of ['t0', `t${tenants - 1}`, 'late']) assert.ok(c.holds(t, big(t, each)), t);
});
